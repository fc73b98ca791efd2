/**
 * Exact costs, hand-computed from the providers' published prices and checked
 * against the genai-prices 0.1.8 catalog. Rates are written in nano-dollars per
 * token: USD per 1M tokens x 1000 (so $2.50/1M = 2500 nanos per token).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import {
  calculateCost,
  createPricer,
  GENAI_PRICES_VERSION,
  CATALOG_SOURCE,
  type CostResult,
} from "../../src/pricing/index.js";

function collectingLogger() {
  const messages: string[] = [];
  return { messages, logger: { warn: (m: string) => void messages.push(m) } };
}

function expectNanos(r: CostResult, input: number, output: number) {
  expect(r.priced).toBe(true);
  expect(r.inputCostNanos).toBe(input);
  expect(r.outputCostNanos).toBe(output);
  expect(r.totalCostNanos).toBe(input + output);
  expect(r.inputCost).toBe(input / 1e9);
  expect(r.outputCost).toBe(output / 1e9);
  expect(r.totalCost).toBe((input + output) / 1e9);
}

describe("catalog prices, exact figures", () => {
  it("gpt-4o (dated snapshot) with cached input: cache reads replace the input rate", () => {
    // gpt-4o: $2.50 input, $1.25 cached input, $10 output per 1M (OpenAI; catalog agrees).
    // input: 6,000 uncached x 2500 = 15,000,000 + 4,000 cached x 1250 = 5,000,000 -> 20,000,000
    // output: 500 x 10000 = 5,000,000
    const r = calculateCost(
      { inputTokens: 10_000, outputTokens: 500, cacheReadTokens: 4_000 },
      { model: "gpt-4o-2024-08-06", provider: "openai" },
    );
    expectNanos(r, 20_000_000, 5_000_000);
    expect(r.totalCost).toBe(0.025);
    expect(r.priceSource).toBe(CATALOG_SOURCE);
    expect(r.matchedModel).toBe("gpt-4o");
    expect(r.matchedProvider).toBe("openai");
    // Without caching all 10,000 are plain input: 10,000 x 2500 = 25,000,000 (so nothing is charged on top).
    const uncached = calculateCost({ inputTokens: 10_000, outputTokens: 500 }, { model: "gpt-4o", provider: "openai" });
    expectNanos(uncached, 25_000_000, 5_000_000);
  });

  it("o4-mini with reasoning tokens: reasoning is part of output, priced as output, never added", () => {
    // o4-mini: $1.10 input, $4.40 output per 1M.
    // input: 2,000 x 1100 = 2,200,000; output: 3,000 (2,500 of them reasoning) x 4400 = 13,200,000
    const ctx = { model: "o4-mini-2025-04-16", provider: "openai" };
    const r = calculateCost({ inputTokens: 2_000, outputTokens: 3_000, reasoningTokens: 2_500 }, ctx);
    expectNanos(r, 2_200_000, 13_200_000);
    const same = calculateCost({ inputTokens: 2_000, outputTokens: 3_000 }, ctx);
    expect(same.totalCostNanos).toBe(r.totalCostNanos);
  });

  it("claude-3-5-sonnet with 5-minute cache writes and cache reads", () => {
    // Anthropic: $3 input, $3.75 5-minute cache write, $0.30 cache read, $15 output per 1M.
    // input 12,000 = 2,000 plain x 3000 = 6,000,000 + 3,000 written x 3750 = 11,250,000 + 7,000 read x 300 = 2,100,000
    //   -> 19,350,000; output: 800 x 15000 = 12,000,000
    const r = calculateCost(
      { inputTokens: 12_000, outputTokens: 800, cacheWriteTokens: 3_000, cacheReadTokens: 7_000 },
      { model: "claude-3-5-sonnet-20241022", provider: "anthropic" },
    );
    expectNanos(r, 19_350_000, 12_000_000);
    expect(r.matchedModel).toBe("claude-3-5-sonnet");
    // claude-sonnet-4 has the same published prices.
    const s4 = calculateCost(
      { inputTokens: 12_000, outputTokens: 800, cacheWriteTokens: 3_000, cacheReadTokens: 7_000 },
      { model: "claude-sonnet-4-20250514", provider: "anthropic" },
    );
    expectNanos(s4, 19_350_000, 12_000_000);
  });

  it("gemini-2.5-pro at and above its 200k-token prompt tier", () => {
    // Google: prompts <= 200k: $1.25 input / $10 output; > 200k: $2.50 / $15 (whole call).
    // Cache reads: $0.125 / $0.25 in the catalog (Google's current price; it launched at $0.31 / $0.625).
    // at 200,000: 200,000 x 1250 = 250,000,000; 1,000 x 10000 = 10,000,000
    const ctx = { model: "gemini-2.5-pro", provider: "google_genai" };
    expectNanos(calculateCost({ inputTokens: 200_000, outputTokens: 1_000 }, ctx), 250_000_000, 10_000_000);
    // at 200,001: 200,001 x 2500 = 500,002,500; 1,000 x 15000 = 15,000,000
    expectNanos(calculateCost({ inputTokens: 200_001, outputTokens: 1_000 }, ctx), 500_002_500, 15_000_000);
    // 300,000 with 100,000 cached: 200,000 x 2500 = 500,000,000 + 100,000 x 250 = 25,000,000; 2,000 x 15000
    expectNanos(
      calculateCost({ inputTokens: 300_000, outputTokens: 2_000, cacheReadTokens: 100_000 }, ctx),
      525_000_000,
      30_000_000,
    );
    // Google's `models/` prefix and Vertex provider id resolve to the same entry.
    const prefixed = calculateCost({ inputTokens: 1_000, outputTokens: 100 }, { model: "models/gemini-2.5-pro", provider: "google_vertexai" });
    // 1,000 x 1250 = 1,250,000; 100 x 10000 = 1,000,000
    expectNanos(prefixed, 1_250_000, 1_000_000);
  });

  it("a Bedrock id with a cross-region inference-profile prefix", () => {
    // Bedrock claude-3-5-sonnet v2: $3 input, $0.30 cache read, $15 output per 1M.
    // input: 4,000 x 3000 = 12,000,000 + 1,000 x 300 = 300,000 -> 12,300,000; output: 400 x 15000 = 6,000,000
    const usage = { inputTokens: 5_000, outputTokens: 400, cacheReadTokens: 1_000 };
    const r = calculateCost(usage, { model: "us.anthropic.claude-3-5-sonnet-20241022-v2:0", provider: "amazon_bedrock" });
    expectNanos(r, 12_300_000, 6_000_000);
    expect(r.matchedProvider).toBe("aws");
    // `bedrock` is the same provider; without a provider the normalised name finds Anthropic's entry at the same price.
    expectNanos(calculateCost(usage, { model: "eu.anthropic.claude-3-5-sonnet-20241022-v2:0", provider: "bedrock" }), 12_300_000, 6_000_000);
    const bare = calculateCost(usage, { model: "us.anthropic.claude-3-5-sonnet-20241022-v2:0" });
    expectNanos(bare, 12_300_000, 6_000_000);
    expect(bare.matchedProvider).toBe("anthropic");
  });

  it("Vertex @ versions and Azure spellings", () => {
    // claude-3-5-sonnet@20240620 on Vertex: $3 / $15 per 1M -> 1,000 x 3000; 100 x 15000
    expectNanos(
      calculateCost({ inputTokens: 1_000, outputTokens: 100 }, { model: "claude-3-5-sonnet@20240620", provider: "google_vertexai" }),
      3_000_000,
      1_500_000,
    );
    // Azure gpt-35-turbo = gpt-3.5-turbo: $0.50 / $1.50 per 1M -> 1,000 x 500; 100 x 1500
    const r = calculateCost({ inputTokens: 1_000, outputTokens: 100 }, { model: "gpt-35-turbo", provider: "azure" });
    expectNanos(r, 500_000, 150_000);
    expect(r.matchedModel).toBe("gpt-3.5-turbo");
  });

  it("an embedding model: text-embedding-3-small", () => {
    // $0.02 per 1M -> 20 nanos per token: 123,456 x 20 = 2,469,120
    const r = calculateCost({ inputTokens: 123_456, outputTokens: 0 }, { model: "text-embedding-3-small", provider: "openai" });
    expectNanos(r, 2_469_120, 0);
  });

  it("o3 is priced at the price in force at the call's timestamp", () => {
    // The catalog has o3 at $10 / $40 until 2025-06-10 and $2 / $8 from then (OpenAI's cut of 10 June 2025).
    // (Catalog note: it lists cached input at $0.50 in both periods; OpenAI's launch price was $2.50.)
    const usage = { inputTokens: 1_000, outputTokens: 5_000, reasoningTokens: 4_000 };
    // before: 1,000 x 10000 = 10,000,000; 5,000 x 40000 = 200,000,000
    expectNanos(calculateCost(usage, { model: "o3", provider: "openai", timestamp: "2025-05-01T12:00:00Z" }), 10_000_000, 200_000_000);
    expectNanos(
      calculateCost(usage, { model: "o3", provider: "openai", timestamp: new Date("2025-06-09T23:59:59.999Z") }),
      10_000_000,
      200_000_000,
    );
    // from the cut: 1,000 x 2000 = 2,000,000; 5,000 x 8000 = 40,000,000
    expectNanos(calculateCost(usage, { model: "o3", provider: "openai", timestamp: "2025-06-10T00:00:00Z" }), 2_000_000, 40_000_000);
    // default timestamp is now, after the cut
    expectNanos(calculateCost(usage, { model: "o3-2025-04-16", provider: "openai" }), 2_000_000, 40_000_000);
  });

  it("time-of-day prices: deepseek-chat standard hours versus off-peak", () => {
    // Catalog: 00:30-16:30 UTC $0.27 input / $1.10 output; otherwise $0.135 / $0.55.
    const usage = { inputTokens: 10_000, outputTokens: 1_000 };
    // 10,000 x 270 = 2,700,000; 1,000 x 1100 = 1,100,000
    expectNanos(calculateCost(usage, { model: "deepseek-chat", provider: "deepseek", timestamp: "2025-03-01T12:00:00Z" }), 2_700_000, 1_100_000);
    // 10,000 x 135 = 1,350,000; 1,000 x 550 = 550,000
    expectNanos(calculateCost(usage, { model: "deepseek-chat", provider: "deepseek", timestamp: "2025-03-01T20:00:00Z" }), 1_350_000, 550_000);
  });

  it("the recorded catalog version is the installed genai-prices version", () => {
    const require = createRequire(import.meta.url);
    const entry = require.resolve("@pydantic/genai-prices");
    const pkg = JSON.parse(readFileSync(join(dirname(entry), "..", "package.json"), "utf8")) as { version: string };
    expect(GENAI_PRICES_VERSION).toBe(pkg.version);
    expect(CATALOG_SOURCE).toBe(`genai-prices@${pkg.version}`);
  });
});

describe("unknown models", () => {
  it("are unpriced, never priced as another model, and warned about once per (provider, model)", () => {
    const { messages, logger } = collectingLogger();
    const pricer = createPricer({ logger });
    const usage = { inputTokens: 1_000, outputTokens: 100 };
    const r = pricer.price(usage, { model: "gpt-4o-ultra", provider: "openai" });
    expect(r).toEqual({
      inputCost: 0,
      outputCost: 0,
      totalCost: 0,
      inputCostNanos: 0,
      outputCostNanos: 0,
      totalCostNanos: 0,
      priced: false,
      priceSource: null,
      matchedModel: null,
      matchedProvider: null,
    });
    pricer.price(usage, { model: "gpt-4o-ultra", provider: "openai" });
    pricer.price(usage, { model: "gpt-4o-ultra", provider: "openai", deployment: "other" });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('"gpt-4o-ultra"');
    expect(messages[0]).toContain('"openai"');
    pricer.price(usage, { model: "gpt-4o-ultra", provider: "azure" });
    pricer.price(usage, { model: "llama3.1:8b", provider: "ollama" });
    expect(messages).toHaveLength(3);
  });

  it("a known model under a provider that does not serve it stays unpriced", () => {
    const { messages, logger } = collectingLogger();
    const r = createPricer({ logger }).price({ inputTokens: 10, outputTokens: 10 }, { model: "gpt-4o", provider: "groq" });
    expect(r.priced).toBe(false);
    expect(messages).toHaveLength(1);
  });

  it("an unknown provider falls back to matching by model name alone", () => {
    // gpt-4o-mini: $0.15 / $0.60 per 1M -> 1,000 x 150; 1,000 x 600
    const r = createPricer().price({ inputTokens: 1_000, outputTokens: 1_000 }, { model: "gpt-4o-mini", provider: "some-proxy" });
    expectNanos(r, 150_000, 600_000);
    expect(r.matchedProvider).toBe("openai");
  });
});

describe("overrides, deployments and multipliers", () => {
  it("maps an Azure deployment to its model, by deployment or by model name, with a multiplier", () => {
    const pricer = createPricer({
      azureDeployments: { "prod-chat": "gpt-4o-mini" },
      multipliers: { azure: 1.1 },
      logger: { warn() {} },
    });
    const usage = { inputTokens: 10_000, outputTokens: 1_000, cacheReadTokens: 2_000 };
    // gpt-4o-mini: $0.15 input, $0.075 cached, $0.60 output per 1M; Azure x 1.1
    // input: (8,000 x 150 = 1,200,000 + 2,000 x 75 = 150,000) x 1.1 = 1,485,000; output: 1,000 x 600 x 1.1 = 660,000
    const byDeployment = pricer.price(usage, { model: "gpt-4o-mini-something", provider: "azure", deployment: "prod-chat" });
    expectNanos(byDeployment, 1_485_000, 660_000);
    expect(byDeployment.matchedProvider).toBe("azure");
    expect(byDeployment.matchedModel).toBe("gpt-4o-mini");
    expectNanos(pricer.price(usage, { model: "prod-chat", provider: "azure" }), 1_485_000, 660_000);
    // The same deployment name under another provider is not an Azure deployment.
    expect(pricer.price(usage, { model: "prod-chat", provider: "openai" }).priced).toBe(false);
    // Without the mapping, the deployment name is no model.
    expect(createPricer({ logger: { warn() {} } }).price(usage, { model: "prod-chat", provider: "azure" }).priced).toBe(false);
  });

  it("a multiplier keyed by LangChain's provider id applies to that provider only", () => {
    const pricer = createPricer({ multipliers: { amazon_bedrock: 1.25 } });
    const usage = { inputTokens: 1_000, outputTokens: 100 };
    // claude-3-5-sonnet on Bedrock $3 / $15: 1,000 x 3000 x 1.25 = 3,750,000; 100 x 15000 x 1.25 = 1,875,000
    expectNanos(pricer.price(usage, { model: "anthropic.claude-3-5-sonnet-20240620-v1:0", provider: "bedrock" }), 3_750_000, 1_875_000);
    expectNanos(pricer.price(usage, { model: "claude-3-5-sonnet-20240620", provider: "anthropic" }), 3_000_000, 1_500_000);
  });

  it("overrides win over the catalog, also for normalised names, and report source `override`", () => {
    const pricer = createPricer({
      models: {
        "gpt-4o": { input: 2, output: 8, cacheRead: 0.5 },
        "bedrock/my-finetune": { input: 1, output: 2 },
      },
      logger: { warn() {} },
    });
    // 6,000 x 2000 = 12,000,000 + 4,000 x 500 = 2,000,000; 500 x 8000 = 4,000,000
    const r = pricer.price(
      { inputTokens: 10_000, outputTokens: 500, cacheReadTokens: 4_000 },
      { model: "gpt-4o-2024-08-06", provider: "openai" },
    );
    expectNanos(r, 14_000_000, 4_000_000);
    expect(r.priceSource).toBe("override");
    expect(r.matchedModel).toBe("gpt-4o");
    // Provider-scoped key: bedrock, amazon_bedrock and aws are one provider. 1,000 x 1000; 1,000 x 2000
    const scoped = pricer.price({ inputTokens: 1_000, outputTokens: 1_000 }, { model: "my-finetune", provider: "amazon_bedrock" });
    expectNanos(scoped, 1_000_000, 2_000_000);
    expect(scoped.matchedProvider).toBe("aws");
    expect(pricer.price({ inputTokens: 1, outputTokens: 1 }, { model: "my-finetune", provider: "openai" }).priced).toBe(false);
  });

  it("rounds input and output separately to whole nano-dollars; total is their sum", () => {
    // $0.0015 per 1M = 1.5 nanos per token: 1 input token -> 2 nanos, 1 output token -> 2 nanos, total 4 (not 3).
    const pricer = createPricer({ models: { tiny: { input: 0.0015, output: 0.0015 } } });
    expectNanos(pricer.price({ inputTokens: 1, outputTokens: 1 }, { model: "tiny" }), 2, 2);
    // 3 tokens -> 4.5 -> 5 nanos
    expectNanos(pricer.price({ inputTokens: 3, outputTokens: 0 }, { model: "tiny" }), 5, 0);
  });

  it("tiered overrides apply above their prompt size", () => {
    const pricer = createPricer({
      models: { big: { input: 1, output: 4, tiers: [{ above: 100_000, input: 2, output: 6 }] } },
    });
    // 100,000 x 1000 = 100,000,000; 10 x 4000 = 40,000
    expectNanos(pricer.price({ inputTokens: 100_000, outputTokens: 10 }, { model: "big" }), 100_000_000, 40_000);
    // 100,001 x 2000 = 200,002,000; 10 x 6000 = 60,000
    expectNanos(pricer.price({ inputTokens: 100_001, outputTokens: 10 }, { model: "big" }), 200_002_000, 60_000);
  });
});

describe("bad usage", () => {
  const pricer = createPricer();
  const ctx = { model: "gpt-4o", provider: "openai" };
  it.each([
    [{ inputTokens: -1, outputTokens: 0 }, "usage.inputTokens"],
    [{ inputTokens: 1, outputTokens: Number.NaN }, "usage.outputTokens"],
    [{ inputTokens: 10, outputTokens: 0, cacheReadTokens: 8, cacheWriteTokens: 3 }, "usage.cacheReadTokens"],
    [{ inputTokens: 10, outputTokens: 0, cacheWriteTokens: Infinity }, "usage.cacheWriteTokens"],
  ])("%j is rejected naming %s", (usage, field) => {
    expect(() => pricer.price(usage, ctx)).toThrow(ValidationError);
    try {
      pricer.price(usage, ctx);
    } catch (e) {
      expect((e as ValidationError).field).toBe(field);
    }
  });
  it("an unreadable timestamp is rejected", () => {
    expect(() => pricer.price({ inputTokens: 1, outputTokens: 1 }, { ...ctx, timestamp: "yesterday-ish" })).toThrow(
      /timestamp/,
    );
  });
});

describe("regional multipliers", () => {
  it("applies bedrock:<profile> and azure:<deployment> over the provider's own factor", () => {
    const pricer = createPricer({
      models: { "bedrock/claude-x": { input: 3, output: 15 }, "azure/gpt-x": { input: 2, output: 8 } },
      azureDeployments: { "eu-zone": "gpt-x", "global-std": "gpt-x" },
      multipliers: { bedrock: 1, "bedrock:eu": 1.1, azure: 1, "azure:eu-zone": 1.1 },
      logger: { warn: () => undefined },
    });
    const usage = { inputTokens: 1_000_000, outputTokens: 100_000 };
    // $3 + $1.50 = $4.50, and 10% more through the eu. profile.
    expect(pricer.price(usage, { model: "us.claude-x", provider: "bedrock" }).totalCostNanos).toBe(4_500_000_000);
    expect(pricer.price(usage, { model: "eu.claude-x", provider: "bedrock" }).totalCostNanos).toBe(4_950_000_000);
    // $2 + $0.80 = $2.80, and 10% more for the data-zone deployment.
    expect(pricer.price(usage, { model: "gpt-x", provider: "azure", deployment: "global-std" }).totalCostNanos).toBe(2_800_000_000);
    expect(pricer.price(usage, { model: "gpt-x", provider: "azure", deployment: "eu-zone" }).totalCostNanos).toBe(3_080_000_000);
  });
});
