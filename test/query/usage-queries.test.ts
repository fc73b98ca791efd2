/**
 * The query service on every backend: one randomized dataset (users, threads,
 * models, agents, days, errors, unpriced and cached calls) loaded into SQLite and
 * into Cosmos (local server) must give identical answers, equal to an independent
 * computation over the raw records written here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageQueries } from "../../src/query/usage-queries.js";
import { CosmosUsageStore } from "../../src/stores/cosmos/index.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import type { UsageStore } from "../../src/stores/types.js";
import type { UsageRecord } from "../../src/record/types.js";
import { makeRecord, seededRandom } from "../contract/make-record.js";
import { startLocalCosmos, type LocalCosmos } from "../support/cosmos-server.js";

const START = Date.parse("2026-03-01T00:00:00.000Z");
const DAYS = 12;
const END = START + DAYS * 86_400_000;
const MODELS = [["openai", "gpt-4o"], ["openai", "gpt-4o-mini"], ["anthropic", "claude-sonnet-4"], ["google_genai", "gemini-2.5-pro"], ["azure", "my-deployment"]] as const;

function dataset(n: number, seed: number): UsageRecord[] {
  const rand = seededRandom(seed);
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  return Array.from({ length: n }, (_, i) => {
    const [provider, model] = pick(MODELS);
    const input = 1 + Math.floor(rand() * 5000);
    const output = Math.floor(rand() * 800);
    const error = rand() < 0.05;
    const priced = model !== "my-deployment";
    const cached = rand() < 0.05;
    const inputCostNanos = priced && !cached && !error ? input * (100 + Math.floor(rand() * 3000)) : 0;
    const outputCostNanos = priced && !cached && !error ? output * (400 + Math.floor(rand() * 9000)) : 0;
    return makeRecord({
      id: `q-${seed}-${i}`,
      userId: `user-${Math.floor(rand() * rand() * 12)}`, // skewed: a few heavy users
      threadId: rand() < 0.1 ? null : `thread-${Math.floor(rand() * 30)}`,
      agentName: rand() < 0.15 ? null : pick(["planner", "researcher", "writer"]),
      provider,
      model,
      timestamp: new Date(START + Math.floor(rand() * (END - START))).toISOString(),
      inputTokens: error ? 0 : input,
      outputTokens: error ? 0 : output,
      cacheReadTokens: error ? 0 : Math.floor(input * rand() * 0.5),
      reasoningTokens: 0,
      inputCostNanos,
      outputCostNanos,
      totalCostNanos: inputCostNanos + outputCostNanos,
      priced,
      cached,
      error,
      errorMessage: error ? "rate limited" : null,
      dimensions: rand() < 0.5 ? { tenant: pick(["acme", "globex"]) } : {},
    });
  });
}

/** The independent computation: plain loops over the records. */
function expected(records: UsageRecord[], keep: (r: UsageRecord) => boolean) {
  const rs = records.filter(keep);
  const sum = (f: (r: UsageRecord) => number) => rs.reduce((n, r) => n + f(r), 0);
  const by = (key: (r: UsageRecord) => string) => {
    const out: Record<string, number> = {};
    for (const r of rs) out[key(r)] = (out[key(r)] ?? 0) + r.totalCostNanos;
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v / 1e9]));
  };
  return {
    totalRequests: rs.length,
    totalInputTokens: sum((r) => r.inputTokens),
    totalOutputTokens: sum((r) => r.outputTokens),
    totalTokens: sum((r) => r.totalTokens),
    cacheReadTokens: sum((r) => r.cacheReadTokens),
    totalCostNanos: sum((r) => r.totalCostNanos),
    errorCount: sum((r) => (r.error ? 1 : 0)),
    unpricedRequests: sum((r) => (r.priced ? 0 : 1)),
    cachedRequests: sum((r) => (r.cached ? 1 : 0)),
    costByModel: by((r) => r.model),
    costByAgent: by((r) => r.agentName ?? "(none)"),
    firstSeen: rs.length ? rs.map((r) => r.timestamp).sort()[0] : null,
    lastSeen: rs.length ? rs.map((r) => r.timestamp).sort().at(-1)! : null,
  };
}

function localDay(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
}

const backends: Array<{ name: string; size: number; make: () => Promise<UsageStore> }> = [];
let local: LocalCosmos;

backends.push({ name: "sqlite", size: 3000, make: async () => new SqliteUsageStore({ path: ":memory:" }) });
// Heavy users (per-user rollups) and light ones (raw records) side by side.
backends.push({ name: "sqlite, rollups above 150 records", size: 3000, make: async () => new SqliteUsageStore({ path: ":memory:", rollupThreshold: 150 }) });
backends.push({
  name: "cosmos (local server)",
  // The local server's queries slow down quadratically past a few thousand items.
  size: 600,
  make: async () => new CosmosUsageStore({ client: local.client(), databaseId: local.databaseId, containerId: local.uniqueContainerId("q") }),
});

beforeAll(async () => {
  local = await startLocalCosmos();
});
afterAll(async () => {
  await local?.close();
});

for (const backend of backends) {
  describe(`query service on ${backend.name}`, () => {
    let store: UsageStore;
    let q: UsageQueries;
    let records: UsageRecord[];
    const range = { start: new Date(START + 5 * 3_600_000 + 1234).toISOString(), end: new Date(END - 7 * 3_600_000 - 99).toISOString() };
    const inRange = (r: UsageRecord) => r.timestamp >= range.start && r.timestamp < range.end;

    beforeAll(async () => {
      store = await backend.make();
      q = new UsageQueries(store);
      records = dataset(backend.size, 42);
      for (let i = 0; i < records.length; i += 200) await store.append(records.slice(i, i + 200));
    });
    afterAll(async () => {
      await store.close();
    });

    it("getUserUsage equals the independent computation for every user (range with partial hours)", async () => {
      for (const userId of new Set(records.map((r) => r.userId))) {
        const stats = await q.getUserUsage(userId, range);
        const e = expected(records, (r) => r.userId === userId && inRange(r));
        expect(stats).toMatchObject(e);
        expect(stats.totalCost).toBeCloseTo(e.totalCostNanos / 1e9, 9);
      }
    });

    it("getThreadUsage with and without the user id", async () => {
      for (const threadId of ["thread-3", "thread-17"]) {
        const all = await q.getThreadUsage(threadId);
        expect(all).toMatchObject(expected(records, (r) => r.threadId === threadId));
        const owner = records.find((r) => r.threadId === threadId)!.userId;
        const mine = await q.getThreadUsage(threadId, { userId: owner, ...range });
        expect(mine).toMatchObject(expected(records, (r) => r.threadId === threadId && r.userId === owner && inRange(r)));
      }
    });

    it("by model, by agent, by dimension and top users", async () => {
      const e = expected(records, inRange);
      const byModel = await q.getUsageByModel(range);
      expect(Object.fromEntries(byModel.map((m) => [m.key, m.totalCost]))).toEqual(e.costByModel);
      expect(byModel.map((m) => m.totalCostNanos)).toEqual([...byModel.map((m) => m.totalCostNanos)].sort((a, b) => b - a));
      const byAgent = await q.getUsageByAgent(range);
      expect(Object.fromEntries(byAgent.map((a) => [a.key, a.totalCost]))).toEqual(e.costByAgent);
      const byTenant = await q.getUsageBy("tenant", range);
      const tenantCost = (t: string | null) =>
        records.filter((r) => inRange(r) && (r.dimensions.tenant ?? null) === t).reduce((n, r) => n + r.totalCostNanos, 0);
      for (const row of byTenant) expect(row.totalCostNanos).toBe(tenantCost(row.key));
      const top = await q.getTopUsers({ ...range, limit: 3 });
      expect(top).toHaveLength(3);
      for (const u of top) expect(u.totalCostNanos).toBe(expected(records, (r) => r.userId === u.key && inRange(r)).totalCostNanos);
    });

    it("cost trend in Asia/Tokyo and America/New_York days, zero-filled, by day, week and month", async () => {
      for (const timeZone of ["Asia/Tokyo", "America/New_York", "UTC"]) {
        const trend = await q.getCostTrend({ ...range, timeZone, granularity: "day" });
        const byDay = new Map<string, number>();
        for (const r of records.filter(inRange)) byDay.set(localDay(r.timestamp, timeZone), (byDay.get(localDay(r.timestamp, timeZone)) ?? 0) + r.totalCostNanos);
        expect(trend.length).toBeGreaterThanOrEqual(DAYS - 1);
        for (const point of trend) expect(point.costNanos).toBe(byDay.get(point.date) ?? 0);
        expect(trend.reduce((n, p) => n + p.costNanos, 0)).toBe(expected(records, inRange).totalCostNanos);
        const weeks = await q.getCostTrend({ ...range, timeZone, granularity: "week" });
        expect(weeks.reduce((n, p) => n + p.costNanos, 0)).toBe(expected(records, inRange).totalCostNanos);
        expect(weeks.every((w) => new Date(`${w.date}T00:00:00Z`).getUTCDay() === 1)).toBe(true);
      }
      const months = await q.getCostTrend({ start: "2026-02-01T00:00:00Z", end: "2026-05-01T00:00:00Z", granularity: "month" });
      expect(months.map((m) => m.date)).toEqual(["2026-02", "2026-03", "2026-04"]);
      expect(months[0].requests).toBe(0);
      expect(months[1].requests).toBe(records.filter((r) => r.timestamp.startsWith("2026-03")).length);
    });

    it("getAllUsage pages through every record once, newest first, while new records arrive", async () => {
      const seen: UsageRecord[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await q.getAllUsage({ ...range, limit: 97, cursor });
        seen.push(...page.records);
        cursor = page.cursor;
        if (pages++ === 1) {
          // Written mid-paging, newer than everything: must not disturb the pages still to come.
          await store.append([makeRecord({ id: `late-${backend.name}`, userId: "user-1", timestamp: new Date(END - 8 * 3_600_000).toISOString() })]);
        }
      } while (cursor);
      const expectedIds = records.filter(inRange).map((r) => r.id);
      expect(seen.map((r) => r.id).filter((id) => !id.startsWith("late-")).sort()).toEqual([...expectedIds].sort());
      expect(new Set(seen.map((r) => r.id)).size).toBe(seen.length);
      for (let i = 1; i < seen.length; i++) {
        const a = seen[i - 1];
        const b = seen[i];
        expect(a.timestamp > b.timestamp || (a.timestamp === b.timestamp && a.id > b.id)).toBe(true);
      }
    });

    it("bad input: unknown user is zeros; malformed cursor, bad limit, zone and range are clear errors", async () => {
      const none = await q.getUserUsage("nobody-here", range);
      expect(none).toMatchObject({ totalRequests: 0, totalCost: 0, firstSeen: null });
      expect(none.costTrend.every((p) => p.requests === 0)).toBe(true);
      await expect(q.getAllUsage({ cursor: "not a cursor!" })).rejects.toMatchObject({ code: "ERR_INVALID_CURSOR" });
      await expect(q.getAllUsage({ cursor: Buffer.from('{"x":1}').toString("base64url") })).rejects.toMatchObject({ code: "ERR_INVALID_CURSOR" });
      await expect(q.getAllUsage({ limit: 0 })).rejects.toMatchObject({ code: "ERR_VALIDATION", field: "limit" });
      expect((await q.getAllUsage({ ...range, limit: 1e9 })).records.length).toBeLessThanOrEqual(1000);
      await expect(q.getUserUsage("u", { timeZone: "Mars/Olympus" })).rejects.toMatchObject({ field: "timeZone" });
      await expect(q.getUserUsage("u", { start: "2026-03-05", end: "2026-03-01" })).rejects.toMatchObject({ field: "start" });
      await expect(q.getUserUsage("u", { start: "yesterday-ish" })).rejects.toMatchObject({ field: "start" });
      await expect(q.getUserUsage(42 as unknown as string)).rejects.toMatchObject({ field: "userId" });
      await expect(q.getUsageBy("tenant; DROP TABLE x")).rejects.toMatchObject({ field: "dimension" });
    });
  });
}
