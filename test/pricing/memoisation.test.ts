/**
 * Hot path: name resolution runs once per (provider, deployment, model). The
 * real genai-prices functions are wrapped in counting spies (they still run).
 */
import { describe, expect, it, vi } from "vitest";

vi.mock("@pydantic/genai-prices", async (importOriginal) => {
  const real = await importOriginal<typeof import("@pydantic/genai-prices")>();
  return { ...real, calcPrice: vi.fn(real.calcPrice), findProvider: vi.fn(real.findProvider) };
});

const genai = await import("@pydantic/genai-prices");
const { createPricer } = await import("../../src/pricing/index.js");

describe("memoised resolution", () => {
  it("repeated calls do not touch the catalog again", () => {
    const pricer = createPricer({ logger: { warn() {} } });
    const calc = vi.mocked(genai.calcPrice);
    const find = vi.mocked(genai.findProvider);
    const ctx = { model: "us.anthropic.claude-3-5-sonnet-20241022-v2:0", provider: "amazon_bedrock" };
    const first = pricer.price({ inputTokens: 1_000, outputTokens: 10 }, ctx);
    expect(first.priced).toBe(true);
    const calcCalls = calc.mock.calls.length;
    const findCalls = find.mock.calls.length;
    expect(calcCalls).toBeGreaterThan(0);
    let total = 0;
    for (let i = 0; i < 10_000; i++) total += pricer.price({ inputTokens: 1_000 + i, outputTokens: 10 }, ctx).totalCostNanos;
    expect(total).toBeGreaterThan(0);
    expect(calc.mock.calls.length).toBe(calcCalls);
    expect(find.mock.calls.length).toBe(findCalls);
    // An unknown model is resolved (and warned about) once too.
    pricer.price({ inputTokens: 1, outputTokens: 1 }, { model: "no-such-model", provider: "openai" });
    const afterUnknown = calc.mock.calls.length;
    expect(afterUnknown).toBeGreaterThan(calcCalls);
    pricer.price({ inputTokens: 1, outputTokens: 1 }, { model: "no-such-model", provider: "openai" });
    expect(calc.mock.calls.length).toBe(afterUnknown);
  });
});
