/**
 * User price overrides: validated once at load time, so a bad entry fails at
 * start-up with a `PricingConfigError` naming it, never silently at billing.
 *
 * Units: our format is USD per 1M tokens. The rule that catches a per-token
 * figure pasted into it: a non-zero price below 1e-4 (USD 0.0001 per 1M
 * tokens, a hundredth of the cheapest catalog rate) is rejected as per-token.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { PricingConfigError } from "../errors.js";
import { catalogProviderId } from "./catalog.js";
import { perMillionToNanosPerToken, type Rate, type RateCard, type RateSchedule } from "./rates.js";
import type { ModelPriceOverride, PricingOptions, PriceTierOverride } from "./types.js";

/** Below this, a non-zero per-1M price is surely a per-token price. */
export const MIN_PER_MILLION_PRICE = 1e-4;

const RATE_FIELDS = ["input", "output", "cacheRead", "cacheWrite"] as const;

function checkPrice(entry: string, value: unknown, required: boolean): void {
  if (value === undefined) {
    if (required) throw new PricingConfigError(entry, "is required (USD per 1M tokens)");
    return;
  }
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new PricingConfigError(entry, `must be a number (USD per 1M tokens), got ${JSON.stringify(value)}`);
  }
  if (!Number.isFinite(value) || value < 0) {
    throw new PricingConfigError(entry, `must be a finite price of 0 or more, got ${value}`);
  }
  if (value > 0 && value < MIN_PER_MILLION_PRICE) {
    throw new PricingConfigError(
      entry,
      `${value} looks like a per-token price; this format is USD per 1M tokens (multiply by 1,000,000)`,
    );
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkModelOverride(key: string, value: unknown): void {
  const entry = `models[${JSON.stringify(key)}]`;
  if (key.trim() === "" || key.trim().endsWith("/")) throw new PricingConfigError(entry, "the model name is empty");
  if (!isRecord(value)) throw new PricingConfigError(entry, "must be an object { input, output, cacheRead?, cacheWrite? }");
  for (const field of Object.keys(value)) {
    if (!(RATE_FIELDS as readonly string[]).includes(field) && field !== "tiers") {
      throw new PricingConfigError(`${entry}.${field}`, "is not a known field (input, output, cacheRead, cacheWrite, tiers)");
    }
  }
  for (const field of RATE_FIELDS) checkPrice(`${entry}.${field}`, value[field], field === "input" || field === "output");
  if (value.tiers === undefined) return;
  if (!Array.isArray(value.tiers)) throw new PricingConfigError(`${entry}.tiers`, "must be an array");
  value.tiers.forEach((tier: unknown, i) => {
    const tierEntry = `${entry}.tiers[${i}]`;
    if (!isRecord(tier)) throw new PricingConfigError(tierEntry, "must be an object { above, input?, output?, ... }");
    if (typeof tier.above !== "number" || !Number.isSafeInteger(tier.above) || tier.above < 0) {
      throw new PricingConfigError(`${tierEntry}.above`, `must be a whole number of tokens, got ${JSON.stringify(tier.above)}`);
    }
    for (const field of RATE_FIELDS) checkPrice(`${tierEntry}.${field}`, tier[field], false);
  });
}

/**
 * Checks every entry of `options` and returns it unchanged; throws
 * `PricingConfigError` naming the first bad entry.
 */
export function validatePricingOptions(options: PricingOptions): PricingOptions {
  if (!isRecord(options)) throw new PricingConfigError("options", "must be an object");
  const { models, azureDeployments, multipliers, logger } = options as Record<string, unknown>;
  if (models !== undefined) {
    if (!isRecord(models)) throw new PricingConfigError("models", "must be an object keyed by model name");
    for (const [key, value] of Object.entries(models)) checkModelOverride(key, value);
  }
  if (azureDeployments !== undefined) {
    if (!isRecord(azureDeployments)) throw new PricingConfigError("azureDeployments", "must be an object");
    for (const [name, model] of Object.entries(azureDeployments)) {
      const entry = `azureDeployments[${JSON.stringify(name)}]`;
      if (name.trim() === "") throw new PricingConfigError(entry, "the deployment name is empty");
      if (typeof model !== "string" || model.trim() === "") {
        throw new PricingConfigError(entry, `must name a model, got ${JSON.stringify(model)}`);
      }
    }
  }
  if (multipliers !== undefined) {
    if (!isRecord(multipliers)) throw new PricingConfigError("multipliers", "must be an object keyed by provider");
    for (const [provider, factor] of Object.entries(multipliers)) {
      const entry = `multipliers[${JSON.stringify(provider)}]`;
      if (provider.trim() === "") throw new PricingConfigError(entry, "the provider id is empty");
      if (typeof factor !== "number" || !Number.isFinite(factor) || factor <= 0) {
        throw new PricingConfigError(entry, `must be a positive number, got ${JSON.stringify(factor)}`);
      }
    }
  }
  if (logger !== undefined && (!isRecord(logger) || typeof logger.warn !== "function")) {
    throw new PricingConfigError("logger", "must have a warn(message) method");
  }
  return options;
}

/** The file format: the options object without the logger. Unknown top-level keys are errors. */
const fileSchema = z.strictObject({
  models: z.record(z.string(), z.unknown()).optional(),
  azureDeployments: z.record(z.string(), z.unknown()).optional(),
  multipliers: z.record(z.string(), z.unknown()).optional(),
});

/**
 * Reads our JSON override file (same shape as `PricingOptions`, without
 * `logger`). Throws `PricingConfigError` naming the bad entry.
 */
export function loadPricingOverridesFile(path: string): PricingOptions {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new PricingConfigError(path, `cannot read the override file as JSON: ${(cause as Error).message}`, { cause });
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === "unrecognized_keys") {
      throw new PricingConfigError(issue.keys[0], "is not a known key (models, azureDeployments, multipliers)");
    }
    const entry = issue.path.length ? issue.path.map(String).join(".") : path;
    throw new PricingConfigError(entry, issue.message);
  }
  return validatePricingOptions(parsed.data as PricingOptions);
}

/** Combines option sets; later ones win entry by entry (the last logger wins). */
export function mergePricingOptions(...sets: Array<PricingOptions | undefined>): PricingOptions {
  const out: PricingOptions = {};
  for (const s of sets) {
    if (!s) continue;
    if (s.models) out.models = { ...out.models, ...s.models };
    if (s.azureDeployments) out.azureDeployments = { ...out.azureDeployments, ...s.azureDeployments };
    if (s.multipliers) out.multipliers = { ...out.multipliers, ...s.multipliers };
    if (s.logger) out.logger = s.logger;
  }
  return out;
}

/**
 * The key an override is stored and looked up under: `provider/model` with the
 * provider canonical (so `bedrock/x` and `aws/x` are one key), or `model`.
 * A leading segment that is no known provider stays part of the model name.
 */
export function overrideKey(provider: string | undefined, model: string): string {
  return provider ? `${provider}/${model}` : model;
}

export function canonicalOverrideKey(key: string): string {
  const k = key.trim().toLowerCase();
  const slash = k.indexOf("/");
  if (slash <= 0) return k;
  const provider = catalogProviderId(k.slice(0, slash));
  return provider ? overrideKey(provider, k.slice(slash + 1)) : k;
}

function tieredRate(base: number, tiers: PriceTierOverride[] | undefined, field: (typeof RATE_FIELDS)[number]): Rate {
  const baseRate = perMillionToNanosPerToken(base);
  if (!tiers || tiers.length === 0) return baseRate;
  const sorted = [...tiers].sort((a, b) => a.above - b.above);
  let current = baseRate;
  const steps = sorted.map((t) => {
    const price = t[field];
    if (price !== undefined) current = perMillionToNanosPerToken(price);
    return { start: t.above, rate: current };
  });
  return { base: baseRate, tiers: steps };
}

/** An override as a schedule with one always-valid card. */
export function compileOverride(o: ModelPriceOverride): RateSchedule {
  const card: RateCard = {
    input: tieredRate(o.input, o.tiers, "input"),
    output: tieredRate(o.output, o.tiers, "output"),
  };
  if (o.cacheRead !== undefined) card.cacheRead = tieredRate(o.cacheRead, o.tiers, "cacheRead");
  if (o.cacheWrite !== undefined) card.cacheWrite = tieredRate(o.cacheWrite, o.tiers, "cacheWrite");
  return [{ card }];
}
