/**
 * Loader for LiteLLM's `model_prices_and_context_window.json`, turned into
 * our overrides (USD per 1M tokens).
 *
 * LiteLLM prices are USD per token. The rule that catches a per-1M figure
 * pasted into it: a per-token price above 1e-3 (USD 1,000 per 1M tokens,
 * above every real text-token price) is rejected as per-1M.
 *
 * Entries are keyed as LiteLLM keys them (`gpt-4o`, `azure/gpt-4o`,
 * `bedrock/anthropic.claude-...`); a leading known provider becomes the
 * override's provider. `sample_spec` and entries without a token price
 * (image, audio-second, per-request models) are skipped. Prices above a
 * prompt size (`input_cost_per_token_above_200k_tokens`, ...) become tiers.
 */
import { readFileSync } from "node:fs";
import { PricingConfigError } from "../errors.js";
import { validatePricingOptions } from "./overrides.js";
import type { ModelPriceOverride, PricingOptions, PriceTierOverride } from "./types.js";

/** Above this, a per-token price is surely a per-1M price. */
export const MAX_PER_TOKEN_PRICE = 1e-3;

const FIELDS = {
  input: "input_cost_per_token",
  output: "output_cost_per_token",
  cacheRead: "cache_read_input_token_cost",
  cacheWrite: "cache_creation_input_token_cost",
} as const;

const TIER_SUFFIX = /^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost|cache_creation_input_token_cost)_above_(\d+)k_tokens$/;

function perMillion(entry: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new PricingConfigError(entry, `must be a number (USD per token), got ${JSON.stringify(value)}`);
  }
  if (!Number.isFinite(value) || value < 0) {
    throw new PricingConfigError(entry, `must be a finite price of 0 or more, got ${value}`);
  }
  if (value > MAX_PER_TOKEN_PRICE) {
    throw new PricingConfigError(entry, `${value} looks like a per-1M-token price; this format is USD per token`);
  }
  // Per token -> per 1M, with the float noise of the multiplication removed.
  return Number((value * 1e6).toPrecision(12));
}

function convertEntry(key: string, spec: Record<string, unknown>): ModelPriceOverride | undefined {
  const at = (field: string) => `${key}.${field}`;
  const input = perMillion(at(FIELDS.input), spec[FIELDS.input]);
  const output = perMillion(at(FIELDS.output), spec[FIELDS.output]);
  if (input === undefined && output === undefined) return undefined;
  const out: ModelPriceOverride = { input: input ?? 0, output: output ?? 0 };
  const cacheRead = perMillion(at(FIELDS.cacheRead), spec[FIELDS.cacheRead]);
  const cacheWrite = perMillion(at(FIELDS.cacheWrite), spec[FIELDS.cacheWrite]);
  if (cacheRead !== undefined) out.cacheRead = cacheRead;
  if (cacheWrite !== undefined) out.cacheWrite = cacheWrite;

  const tiers = new Map<number, PriceTierOverride>();
  for (const [field, value] of Object.entries(spec)) {
    const m = TIER_SUFFIX.exec(field);
    if (!m) continue;
    const price = perMillion(at(field), value);
    if (price === undefined) continue;
    const above = Number(m[2]) * 1000;
    const tier = tiers.get(above) ?? { above };
    const name = (Object.keys(FIELDS) as Array<keyof typeof FIELDS>).find((k) => FIELDS[k] === m[1]);
    if (name) tier[name] = price;
    tiers.set(above, tier);
  }
  if (tiers.size) out.tiers = [...tiers.values()].sort((a, b) => a.above - b.above);
  return out;
}

/**
 * Reads a LiteLLM price file (a path, or the parsed object) into overrides.
 * Throws `PricingConfigError` naming the entry and field of a bad price.
 */
export function loadLiteLLMPrices(source: string | Record<string, unknown>): PricingOptions {
  let data: unknown = source;
  if (typeof source === "string") {
    try {
      data = JSON.parse(readFileSync(source, "utf8"));
    } catch (cause) {
      throw new PricingConfigError(source, `cannot read the LiteLLM price file as JSON: ${(cause as Error).message}`, {
        cause,
      });
    }
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new PricingConfigError("litellm", "the price file must be an object keyed by model name");
  }
  const models: Record<string, ModelPriceOverride> = {};
  for (const [key, spec] of Object.entries(data)) {
    if (key === "sample_spec") continue;
    if (key.trim() === "") throw new PricingConfigError(JSON.stringify(key), "the model name is empty");
    if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
      throw new PricingConfigError(key, "must be an object of prices");
    }
    const converted = convertEntry(key, spec as Record<string, unknown>);
    if (converted) models[key] = converted;
  }
  return validatePricingOptions({ models });
}
