import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { PricingConfigError } from "../../src/errors.js";
import {
  createPricer,
  loadLiteLLMPrices,
  loadPricingOverridesFile,
  mergePricingOptions,
  validatePricingOptions,
  type PricingOptions,
} from "../../src/pricing/index.js";

const dir = mkdtempSync(join(tmpdir(), "pricing-overrides-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function writeJson(content: unknown): string {
  const path = join(dir, `f${fileNo++}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

function configError(fn: () => unknown): PricingConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PricingConfigError);
    expect((e as PricingConfigError).code).toBe("ERR_PRICING_CONFIG");
    return e as PricingConfigError;
  }
  throw new Error("expected a PricingConfigError");
}

describe("our override file", () => {
  it("loads and prices with it", () => {
    const path = writeJson({
      models: { "azure/gpt-4o": { input: 2.75, output: 11, cacheRead: 1.375 } },
      azureDeployments: { "eu-prod": "gpt-4o" },
      multipliers: { azure: 1.0 },
    });
    const options = loadPricingOverridesFile(path);
    const r = createPricer(options).price(
      { inputTokens: 1_000, outputTokens: 100, cacheReadTokens: 200 },
      { model: "eu-prod", provider: "azure" },
    );
    // 800 x 2750 = 2,200,000 + 200 x 1375 = 275,000 -> 2,475,000; 100 x 11000 = 1,100,000
    expect(r.inputCostNanos).toBe(2_475_000);
    expect(r.outputCostNanos).toBe(1_100_000);
    expect(r.priceSource).toBe("override");
  });

  it.each<[string, unknown, string]>([
    ["negative price", { models: { "gpt-4o": { input: -1, output: 10 } } }, 'models["gpt-4o"].input'],
    ["string price", { models: { "gpt-4o": { input: "2.5", output: 10 } } }, 'models["gpt-4o"].input'],
    ["missing output", { models: { "gpt-4o": { input: 2.5 } } }, 'models["gpt-4o"].output'],
    ["per-token price", { models: { "gpt-4o": { input: 2.5e-6, output: 10 } } }, 'models["gpt-4o"].input'],
    ["per-token cache price", { models: { m: { input: 1, output: 1, cacheRead: 5e-7 } } }, 'models["m"].cacheRead'],
    ["empty model name", { models: { " ": { input: 1, output: 1 } } }, 'models[" "]'],
    ["provider without model", { models: { "openai/": { input: 1, output: 1 } } }, 'models["openai/"]'],
    ["unknown field", { models: { m: { input: 1, output: 1, cache_read: 1 } } }, 'models["m"].cache_read'],
    ["bad tier", { models: { m: { input: 1, output: 1, tiers: [{ above: -5 }] } } }, 'models["m"].tiers[0].above'],
    ["zero multiplier", { multipliers: { azure: 0 } }, 'multipliers["azure"]'],
    ["empty deployment target", { azureDeployments: { prod: "" } }, 'azureDeployments["prod"]'],
    ["unknown top-level key", { model: {} }, "model"],
  ])("rejects %s naming the entry", (_what, content, entry) => {
    const path = writeJson(content);
    const err = configError(() => loadPricingOverridesFile(path));
    expect(err.entry).toBe(entry);
    expect(err.message).toContain(entry);
  });

  it("says what to do with a per-token price", () => {
    const err = configError(() => validatePricingOptions({ models: { m: { input: 3e-6, output: 1.5e-5 } } }));
    expect(err.message).toMatch(/per-token.*per 1M tokens/);
  });

  it("rejects NaN and infinite prices given in code", () => {
    expect(configError(() => createPricer({ models: { m: { input: Number.NaN, output: 1 } } })).entry).toBe('models["m"].input');
    expect(configError(() => createPricer({ models: { m: { input: 1, output: Infinity } } })).entry).toBe('models["m"].output');
  });

  it("names the file when it is not JSON", () => {
    const path = writeJson("{ not json");
    expect(configError(() => loadPricingOverridesFile(path)).entry).toBe(path);
  });

  it("merges option sets, later entries winning", () => {
    const a: PricingOptions = { models: { x: { input: 1, output: 1 }, y: { input: 1, output: 1 } }, multipliers: { azure: 1.1 } };
    const b: PricingOptions = { models: { x: { input: 2, output: 2 } } };
    const merged = mergePricingOptions(a, undefined, b);
    expect(merged.models).toEqual({ x: { input: 2, output: 2 }, y: { input: 1, output: 1 } });
    expect(merged.multipliers).toEqual({ azure: 1.1 });
  });
});

describe("LiteLLM price file", () => {
  const litellm = {
    sample_spec: { input_cost_per_token: 0, output_cost_per_token: 0, litellm_provider: "one of https://docs.litellm.ai" },
    "gpt-4o": {
      input_cost_per_token: 2.5e-6,
      output_cost_per_token: 1e-5,
      cache_read_input_token_cost: 1.25e-6,
      litellm_provider: "openai",
      mode: "chat",
    },
    "claude-3-5-sonnet-20241022": {
      input_cost_per_token: 3e-6,
      output_cost_per_token: 1.5e-5,
      cache_creation_input_token_cost: 3.75e-6,
      cache_read_input_token_cost: 3e-7,
      litellm_provider: "anthropic",
    },
    "gemini/gemini-2.5-pro": {
      input_cost_per_token: 1.25e-6,
      input_cost_per_token_above_200k_tokens: 2.5e-6,
      output_cost_per_token: 1e-5,
      output_cost_per_token_above_200k_tokens: 1.5e-5,
      litellm_provider: "gemini",
    },
    "dall-e-3": { input_cost_per_pixel: 4e-8, output_cost_per_pixel: 0, mode: "image_generation" },
    "text-embedding-3-small": { input_cost_per_token: 2e-8, output_cost_per_token: 0, mode: "embedding" },
  };

  it("converts per-token prices to per-1M, skipping sample_spec and non-token entries", () => {
    const { models } = loadLiteLLMPrices(litellm);
    expect(Object.keys(models ?? {}).sort()).toEqual([
      "claude-3-5-sonnet-20241022",
      "gemini/gemini-2.5-pro",
      "gpt-4o",
      "text-embedding-3-small",
    ]);
    expect(models?.["gpt-4o"]).toEqual({ input: 2.5, output: 10, cacheRead: 1.25 });
    expect(models?.["claude-3-5-sonnet-20241022"]).toEqual({ input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 });
    expect(models?.["gemini/gemini-2.5-pro"]).toEqual({
      input: 1.25,
      output: 10,
      tiers: [{ above: 200_000, input: 2.5, output: 15 }],
    });
    expect(models?.["text-embedding-3-small"]).toEqual({ input: 0.02, output: 0 });
  });

  it("reads a file and prices with it like the catalog does", () => {
    const pricer = createPricer(loadLiteLLMPrices(writeJson(litellm)));
    const usage = { inputTokens: 12_000, outputTokens: 800, cacheWriteTokens: 3_000, cacheReadTokens: 7_000 };
    // Same figures as the catalog test: 6,000,000 + 11,250,000 + 2,100,000; 800 x 15000
    const r = pricer.price(usage, { model: "claude-3-5-sonnet-20241022", provider: "anthropic" });
    expect([r.inputCostNanos, r.outputCostNanos, r.priceSource]).toEqual([19_350_000, 12_000_000, "override"]);
    // `gemini/` is Google's provider: 250,000 x 2500 = 625,000,000; 1,000 x 15000 = 15,000,000
    const g = pricer.price({ inputTokens: 250_000, outputTokens: 1_000 }, { model: "gemini-2.5-pro", provider: "google_genai" });
    expect([g.inputCostNanos, g.outputCostNanos, g.priceSource]).toEqual([625_000_000, 15_000_000, "override"]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["a per-1M price", { "gpt-4o": { input_cost_per_token: 2.5, output_cost_per_token: 1e-5 } }, "gpt-4o.input_cost_per_token"],
    ["a negative price", { m: { input_cost_per_token: 1e-6, output_cost_per_token: -1e-6 } }, "m.output_cost_per_token"],
    ["a string price", { m: { input_cost_per_token: "1e-6" } }, "m.input_cost_per_token"],
    ["a per-1M tier", { m: { input_cost_per_token: 1e-6, input_cost_per_token_above_128k_tokens: 2 } }, "m.input_cost_per_token_above_128k_tokens"],
    ["an entry that is no object", { m: 5 }, "m"],
  ])("rejects %s naming the entry and field", (_what, data, entry) => {
    const err = configError(() => loadLiteLLMPrices(data));
    expect(err.entry).toBe(entry);
  });
});
