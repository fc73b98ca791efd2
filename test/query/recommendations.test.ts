/**
 * Recommendations on a real SQLite store: each dataset is written as priced
 * records (the catalog, as the handler would) and every saving is recomputed
 * here call by call with `calculateCost`, independently of the averaging the
 * module does.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { calculateCost, createPricer } from "../../src/pricing/index.js";
import type { Pricer } from "../../src/pricing/types.js";
import { buildRecord, type UsageInput } from "../../src/record/build-record.js";
import { CHEAPER_MODELS, type Recommendation } from "../../src/query/recommendations.js";
import { UsageQueries } from "../../src/query/usage-queries.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";

// 15 days: a month is twice the range.
const RANGE = { start: "2026-03-01T00:00:00.000Z", end: "2026-03-16T00:00:00.000Z" };
const MONTH_FACTOR = 2;
const quiet = createPricer({ logger: { warn() {} } });
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

type Call = Omit<UsageInput, "timestamp"> & { n: number; from?: string };
/** `n` identical calls an hour apart from `from`. */
function calls({ n, from = "2026-03-02T00:00:00.000Z", ...input }: Call): UsageInput[] {
  return Array.from({ length: n }, (_, i) => ({ ...input, timestamp: new Date(Date.parse(from) + i * 3_600_000).toISOString() }));
}

async function queries(...groups: UsageInput[][]): Promise<UsageQueries> {
  const store = new SqliteUsageStore({ path: ":memory:" });
  open.push(store);
  await store.append(groups.flat().map((input) => buildRecord(input, quiet)));
  return new UsageQueries(store);
}

/** Cost of `n` calls, priced one by one (records at their time; alternatives at the range's end). */
function costOf(input: Call, model = input.model, pricer?: Pricer): number {
  const usage = { inputTokens: input.inputTokens, outputTokens: input.outputTokens, cacheReadTokens: input.cacheReadTokens ?? 0 };
  const ctx = { model, provider: input.provider, timestamp: RANGE.end };
  return (pricer ? pricer.price(usage, ctx) : calculateCost(usage, ctx)).totalCostNanos * input.n;
}
const monthlyUsd = (nanos: number, factor = MONTH_FACTOR) => Math.round((nanos * factor) / 1e7) / 100;
const kinds = (recs: Recommendation[]) => recs.map((r) => r.id);

describe("recommendations", () => {
  it("cheaper-model: short answers on gpt-4o and a dated claude-3-5-sonnet, saving re-priced on the downgrade", async () => {
    const gpt: Call = { n: 40, userId: "alice", provider: "openai", model: "gpt-4o", inputTokens: 1200, outputTokens: 120 };
    const claude: Call = { n: 25, userId: "alice", provider: "anthropic", model: "claude-3-5-sonnet-20241022", inputTokens: 800, outputTokens: 250 };
    const bob: Call = { n: 5, userId: "bob", provider: "openai", model: "gpt-4o", inputTokens: 1200, outputTokens: 120 };
    const q = await queries(calls(gpt), calls(claude), calls(bob));
    const recs = await q.getRecommendations(RANGE);
    expect(kinds(recs).sort()).toEqual(["cheaper-model:anthropic/claude-3-5-sonnet-20241022", "cheaper-model:openai/gpt-4o"]);

    const gptRec = recs.find((r) => r.subject.model === "gpt-4o")!;
    const observed = costOf({ ...gpt, n: 45 });
    const saving = observed - costOf({ ...gpt, n: 45 }, "gpt-4o-mini");
    expect(saving).toBeGreaterThan(0);
    expect(gptRec.subject).toEqual({ provider: "openai", model: "gpt-4o", suggestedModel: "gpt-4o-mini" });
    expect(gptRec.evidence).toMatchObject({ calls: 45, avgInputTokens: 1200, avgOutputTokens: 120, costNanos: observed, savingNanos: saving });
    expect(gptRec.estimatedMonthlySavingUsd).toBe(monthlyUsd(saving));

    const claudeRec = recs.find((r) => r.subject.provider === "anthropic")!;
    const claudeSaving = costOf(claude) - costOf(claude, "claude-3-5-haiku");
    expect(claudeRec.subject.suggestedModel).toBe(CHEAPER_MODELS["claude-3-5-sonnet"]);
    expect(claudeRec.evidence.savingNanos).toBe(claudeSaving);
    expect(claudeRec.estimatedMonthlySavingUsd).toBe(monthlyUsd(claudeSaving));
    // Sorted by money at stake.
    expect(recs[0].estimatedMonthlySavingUsd!).toBeGreaterThanOrEqual(recs[1].estimatedMonthlySavingUsd!);

    // Bob alone has too few calls for an average to be trusted.
    expect(await q.getRecommendations({ ...RANGE, userId: "bob" })).toEqual([]);
  });

  it("low-cache-hit: long prompts with 2% cache reads on Anthropic, saving from caching half the input", async () => {
    const long: Call = { n: 50, provider: "anthropic", model: "claude-sonnet-4-20250514", inputTokens: 100_000, cacheReadTokens: 2_000, outputTokens: 500 };
    const recs = await (await queries(calls(long))).getRecommendations(RANGE);
    expect(kinds(recs)).toEqual(["low-cache-hit:anthropic/claude-sonnet-4-20250514"]);
    const saving = costOf(long) - costOf({ ...long, cacheReadTokens: 50_000 });
    expect(recs[0].evidence).toEqual({ calls: 50, avgInputTokens: 100_000, cacheReadRatio: 0.02, savingNanos: saving });
    expect(recs[0].estimatedMonthlySavingUsd).toBe(monthlyUsd(saving));
    expect(recs[0].estimatedMonthlySavingUsd).toBeGreaterThan(10); // $12.96 a month
    expect(recs[0].severity).toBe("warning");
  });

  it("failed-calls: error rates above 5% with enough failures, critical from 25%", async () => {
    const ok = (model: string, n: number): Call => ({ n, provider: "openai", model, inputTokens: 500, outputTokens: 400 });
    const failed = (model: string, n: number): Call => ({ ...ok(model, n), inputTokens: 0, outputTokens: 0, error: true, errorMessage: "429", from: "2026-03-10T00:00:00.000Z" });
    const q = await queries(
      calls(ok("gpt-4o-mini", 32)), calls(failed("gpt-4o-mini", 8)), // 20%
      calls(ok("gpt-4.1-mini", 28)), calls(failed("gpt-4.1-mini", 12)), // 30%
      calls(ok("gpt-4.1-nano", 7)), calls(failed("gpt-4.1-nano", 3)), // 30% but only 3 failures
      calls(ok("o4-mini", 39)), calls(failed("o4-mini", 1)), // 2.5%
    );
    const recs = await q.getRecommendations(RANGE);
    expect(kinds(recs)).toEqual(["failed-calls:openai/gpt-4.1-mini", "failed-calls:openai/gpt-4o-mini"]);
    expect(recs.map((r) => [r.severity, r.estimatedMonthlySavingUsd])).toEqual([["critical", null], ["warning", null]]);
    expect(recs[0].evidence).toEqual({ errors: 12, requests: 40, errorRate: 0.3 });
    expect(recs[1].evidence).toEqual({ errors: 8, requests: 40, errorRate: 0.2 });
  });

  it("agent-cost-growth: cost per request up 38% week over week; small or stable agents are not reported", async () => {
    const agent = (agentName: string, n: number, inputTokens: number, from: string): Call =>
      ({ n, agentName, provider: "openai", model: "gpt-4o-mini", inputTokens, outputTokens: 400, from });
    const PRIOR = "2026-03-02T06:00:00.000Z";
    const LAST = "2026-03-09T06:00:00.000Z";
    const before = agent("researcher", 30, 1000, PRIOR);
    const after = agent("researcher", 24, 2000, LAST);
    const q = await queries(
      calls(before), calls(after),
      calls(agent("writer", 30, 1000, PRIOR)), calls(agent("writer", 30, 1100, LAST)), // +4%
      calls(agent("tiny", 10, 1000, PRIOR)), calls(agent("tiny", 10, 5000, LAST)), // too few requests
    );
    const recs = await q.getRecommendations(RANGE);
    expect(kinds(recs)).toEqual(["agent-cost-growth:researcher"]);
    const perBefore = costOf(before) / before.n;
    const perNow = costOf(after) / after.n;
    const extra = Math.round((perNow - perBefore) * after.n);
    expect(recs[0].evidence).toEqual({
      requestsLastWeek: 24, requestsPriorWeek: 30, costPerRequestLastWeekNanos: perNow, costPerRequestPriorWeekNanos: perBefore,
      growth: perNow / perBefore - 1, extraCostNanos: extra,
    });
    expect(recs[0].evidence.growth).toBeGreaterThan(0.25);
    expect(recs[0].estimatedMonthlySavingUsd).toBe(monthlyUsd(extra, 30 / 7));
  });

  it("unpriced-usage: a model without a price is reported with its calls, after the priced suggestions", async () => {
    const internal: Call = { n: 6, provider: "openai", model: "acme-internal-llm", inputTokens: 3000, outputTokens: 50 };
    const gpt: Call = { n: 30, provider: "openai", model: "gpt-4o", inputTokens: 1000, outputTokens: 100 };
    const recs = await (await queries(calls(internal), calls(gpt))).getRecommendations(RANGE);
    expect(kinds(recs)).toEqual(["cheaper-model:openai/gpt-4o", "unpriced-usage:openai/acme-internal-llm"]);
    expect(recs[1]).toMatchObject({ estimatedMonthlySavingUsd: null, severity: "warning" });
    expect(recs[1].evidence).toEqual({ unpricedRequests: 6, requests: 6, inputTokens: 18_000, outputTokens: 300 });
    expect(recs[1].detail).toContain('"openai/acme-internal-llm"');
  });

  it("healthy usage gives no suggestion", async () => {
    const q = await queries(
      calls({ n: 40, agentName: "writer", provider: "openai", model: "gpt-4o-mini", inputTokens: 1500, outputTokens: 450 }),
      calls({ n: 30, agentName: "writer", provider: "openai", model: "gpt-4o-mini", inputTokens: 1500, outputTokens: 450, from: "2026-03-10T00:00:00.000Z" }),
      calls({ n: 30, provider: "anthropic", model: "claude-sonnet-4", inputTokens: 10_000, cacheReadTokens: 6_000, outputTokens: 800 }),
      calls({ n: 10, provider: "openai", model: "gpt-4o", inputTokens: 1000, outputTokens: 100 }), // short, but too few calls
      calls({ n: 40, provider: "openai", model: "gpt-4o", inputTokens: 1000, outputTokens: 100, from: "2026-02-20T00:00:00.000Z" }), // before the range
    );
    expect(await q.getRecommendations(RANGE)).toEqual([]);
  });

  it("the monitor re-prices with its own pricer (overrides) and trackUsage records", async () => {
    const models = { "gpt-4o-mini": { input: 0.05, output: 0.2 } };
    const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", pricing: { models }, budget: false, env: {} });
    open.push(monitor);
    const gpt: Call = { n: 24, provider: "openai", model: "gpt-4o", inputTokens: 900, outputTokens: 80 };
    for (const input of calls(gpt)) await monitor.trackUsage(input);
    await monitor.flush();
    const recs = await monitor.getRecommendations(RANGE);
    const saving = costOf(gpt) - costOf(gpt, "gpt-4o-mini", createPricer({ models }));
    expect(kinds(recs)).toEqual(["cheaper-model:openai/gpt-4o"]);
    expect(recs[0].evidence.savingNanos).toBe(saving);
    expect(saving).not.toBe(costOf(gpt) - costOf(gpt, "gpt-4o-mini")); // the override mattered
  });

  it("rejects bad input naming the field", async () => {
    const q = await queries([]);
    await expect(q.getRecommendations({ ...RANGE, userId: "" })).rejects.toMatchObject({ field: "userId" });
    await expect(q.getRecommendations({ days: -1 })).rejects.toBeInstanceOf(ValidationError);
  });
});
