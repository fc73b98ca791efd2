/**
 * Properties over random usages: costs agree with genai-prices' own
 * `calcPrice` (to within the half nano-dollar of rounding), grow with every
 * token count, and caching never costs more than the same tokens uncached.
 */
import { calcPrice } from "@pydantic/genai-prices";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createPricer, type CostContext, type CostUsage } from "../../src/pricing/index.js";

const pricer = createPricer({
  models: { "custom-tiered": { input: 1, output: 3, cacheRead: 0.1, cacheWrite: 1.25, tiers: [{ above: 50_000, input: 2, output: 5 }] } },
});

/** Models with their catalog provider; all discount cache reads. */
const MODELS: Array<{ ctx: CostContext; catalog?: { provider: string; model: string } }> = [
  { ctx: { model: "gpt-4o", provider: "openai" }, catalog: { provider: "openai", model: "gpt-4o" } },
  { ctx: { model: "o4-mini", provider: "openai" }, catalog: { provider: "openai", model: "o4-mini" } },
  { ctx: { model: "o3", provider: "openai" }, catalog: { provider: "openai", model: "o3" } },
  { ctx: { model: "claude-3-5-sonnet-20241022", provider: "anthropic" }, catalog: { provider: "anthropic", model: "claude-3-5-sonnet-20241022" } },
  { ctx: { model: "claude-sonnet-4-6", provider: "anthropic" }, catalog: { provider: "anthropic", model: "claude-sonnet-4-6" } },
  { ctx: { model: "gemini-2.5-pro", provider: "google_genai" }, catalog: { provider: "google", model: "gemini-2.5-pro" } },
  { ctx: { model: "gemini-2.5-flash", provider: "google_genai" }, catalog: { provider: "google", model: "gemini-2.5-flash" } },
  { ctx: { model: "deepseek-chat", provider: "deepseek" }, catalog: { provider: "deepseek", model: "deepseek-chat" } },
  { ctx: { model: "custom-tiered" } },
];

const usageArb = fc
  .record({
    inputTokens: fc.integer({ min: 0, max: 600_000 }),
    outputTokens: fc.integer({ min: 0, max: 100_000 }),
    readShare: fc.double({ min: 0, max: 1, noNaN: true }),
    writeShare: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ inputTokens, outputTokens, readShare, writeShare }) => {
    const cacheReadTokens = Math.floor(inputTokens * readShare);
    const cacheWriteTokens = Math.floor((inputTokens - cacheReadTokens) * writeShare);
    return { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens };
  });

const modelArb = fc.constantFrom(...MODELS);
const timestampArb = fc.date({ min: new Date("2025-01-01T00:00:00Z"), max: new Date("2026-12-31T00:00:00Z"), noInvalidDate: true });
const bump = fc.integer({ min: 1, max: 300_000 });

function cost(usage: CostUsage, ctx: CostContext, timestamp: Date): number {
  const r = pricer.price(usage, { ...ctx, timestamp });
  expect(r.priced).toBe(true);
  expect(Number.isInteger(r.inputCostNanos) && Number.isInteger(r.outputCostNanos)).toBe(true);
  expect(r.totalCostNanos).toBe(r.inputCostNanos + r.outputCostNanos);
  return r.totalCostNanos;
}

describe("pricing properties", () => {
  it("agrees with genai-prices calcPrice to within rounding", () => {
    fc.assert(
      fc.property(modelArb.filter((m) => m.catalog !== undefined), usageArb, timestampArb, (m, usage, timestamp) => {
        const ours = pricer.price(usage, { ...m.ctx, timestamp });
        const theirs = calcPrice(
          {
            input_tokens: usage.inputTokens,
            output_tokens: usage.outputTokens,
            cache_read_tokens: usage.cacheReadTokens,
            cache_write_tokens: usage.cacheWriteTokens,
          },
          m.catalog!.model,
          { providerId: m.catalog!.provider, timestamp },
        );
        expect(theirs).not.toBeNull();
        // Rounding to a whole nano-dollar moves each side by at most 0.5e-9 USD; allow float noise on top.
        const tol = (usd: number) => 0.5e-9 + Math.abs(usd) * 1e-12;
        expect(Math.abs(ours.inputCost - theirs!.input_price)).toBeLessThanOrEqual(tol(theirs!.input_price));
        expect(Math.abs(ours.outputCost - theirs!.output_price)).toBeLessThanOrEqual(tol(theirs!.output_price));
      }),
      { numRuns: 400 },
    );
  });

  it("is monotonic in every token count", () => {
    fc.assert(
      fc.property(modelArb, usageArb, timestampArb, bump, (m, u, ts, d) => {
        const base = cost(u, m.ctx, ts);
        // more plain input, more output
        expect(cost({ ...u, inputTokens: u.inputTokens + d }, m.ctx, ts)).toBeGreaterThanOrEqual(base);
        expect(cost({ ...u, outputTokens: u.outputTokens + d }, m.ctx, ts)).toBeGreaterThanOrEqual(base);
        // more cached input (the inclusive input grows with it)
        expect(cost({ ...u, inputTokens: u.inputTokens + d, cacheReadTokens: u.cacheReadTokens + d }, m.ctx, ts)).toBeGreaterThanOrEqual(base);
        expect(cost({ ...u, inputTokens: u.inputTokens + d, cacheWriteTokens: u.cacheWriteTokens + d }, m.ctx, ts)).toBeGreaterThanOrEqual(base);
        // reasoning is inside output: reporting it changes nothing
        expect(cost({ ...u, reasoningTokens: u.outputTokens }, m.ctx, ts)).toBe(base);
      }),
      { numRuns: 300 },
    );
  });

  it("never charges cache reads more than the same tokens as plain input", () => {
    fc.assert(
      fc.property(modelArb, usageArb, timestampArb, (m, u, ts) => {
        const plain = cost({ ...u, cacheReadTokens: 0 }, m.ctx, ts);
        expect(cost(u, m.ctx, ts)).toBeLessThanOrEqual(plain);
        // and strictly less when enough tokens are read from cache to be visible after rounding
        if (u.cacheReadTokens >= 1_000) expect(cost(u, m.ctx, ts)).toBeLessThan(plain);
      }),
      { numRuns: 300 },
    );
  });
});
