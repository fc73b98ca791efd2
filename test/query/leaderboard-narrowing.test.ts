/**
 * The leaderboard's narrowing steps on the real SQLite store: entities that the whole
 * days cannot tell apart (equal or a nanodollar apart, decided by the partial days at the
 * ends, then by tokens, then by key), exact costs of candidates with and without the
 * range's window, and the ranked lists read page by page as the algorithm reads them.
 */
import { describe, expect, it } from "vitest";
import { emptyTrace, topLeaders } from "../../src/query/leaderboard.js";
import { UsageQueries, totalsOf } from "../../src/query/usage-queries.js";
import type { UsageRecord } from "../../src/record/types.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { aggregateInMemory, type LeaderKey, type UsageStore } from "../../src/stores/types.js";
import { actualLeaders, expectedLeaders } from "../contract/leaderboards.js";
import { makeRecord, seededRandom } from "../contract/make-record.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const midnight = Date.UTC(2031, 4, 10);
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * 300 users, 2 threads each, over 6 days from `midnight`: every user spends the same on
 * each whole day (so the window ranks them all equal), and what decides is a record on
 * the first and last day placed inside or outside the range's ends, cost 1 apart or equal,
 * with tokens equal or not.
 */
function nearEqual(seed: number): UsageRecord[] {
  const rnd = seededRandom(seed);
  const out: UsageRecord[] = [];
  const add = (user: string, thread: string, ms: number, cost: number, tokens: number) =>
    out.push(
      makeRecord({
        id: `ne-${seed}-${out.length}`,
        userId: user,
        threadId: thread,
        timestamp: iso(ms),
        inputTokens: tokens,
        outputTokens: 0,
        totalTokens: tokens,
        inputCostNanos: cost,
        outputCostNanos: 0,
        totalCostNanos: cost,
      }),
    );
  for (let u = 0; u < 300; u++) {
    const user = `ne${u}`;
    for (let d = 1; d < 5; d++) add(user, `${user}-t${d % 2}`, midnight + d * DAY + 11 * HOUR, 10_000, 100);
    // The ends: 6 h into the first day (the range starts at 6 h) and 18 h into the last (it ends at 18 h).
    const head = midnight + (rnd() < 0.5 ? 3 : 9) * HOUR + Math.floor(rnd() * HOUR);
    const tail = midnight + 5 * DAY + (rnd() < 0.5 ? 12 : 20) * HOUR + Math.floor(rnd() * HOUR);
    add(user, `${user}-t0`, head, 5_000 + Math.floor(rnd() * 3), rnd() < 0.5 ? 100 : 250);
    add(user, `${user}-t1`, tail, 5_000 + Math.floor(rnd() * 3), rnd() < 0.5 ? 100 : 250);
  }
  return out;
}

function withoutLeaderCosts(store: UsageStore): UsageStore {
  return new Proxy(store, { get: (target, prop) => (prop === "leaderCosts" ? undefined : Reflect.get(target, prop, target)) });
}

describe("leaderboard narrowing on SQLite", () => {
  it("orders entities equal over the whole days by the partial days, then tokens, then key", async () => {
    for (const seed of [1, 2]) {
      const store = new SqliteUsageStore({ path: ":memory:", rollupThreshold: 3 });
      const data = nearEqual(seed);
      await store.append(data);
      const q = new UsageQueries(store);
      const plain = new UsageQueries(withoutLeaderCosts(store));
      const ranges: Array<[string, string]> = [
        [iso(midnight + 6 * HOUR), iso(midnight + 5 * DAY + 18 * HOUR)],
        [iso(midnight + 6 * HOUR), iso(midnight + 5 * DAY)],
        [iso(midnight + DAY), iso(midnight + 5 * DAY + 18 * HOUR)],
        [iso(midnight + 5 * DAY + 6 * HOUR), iso(midnight + 5 * DAY + 21 * HOUR)],
      ];
      for (const [start, end] of ranges) {
        for (const entity of ["user", "thread"] as const) {
          for (const limit of [1, 7, 40]) {
            const expected = expectedLeaders(data, entity, start, end, limit);
            expect(await actualLeaders(q, entity, start, end, limit), `${seed} ${entity} ${start}..${end} top ${limit}`).toEqual(expected);
            expect(await actualLeaders(plain, entity, start, end, limit)).toEqual(expected);
          }
        }
      }
      // The first range needs the narrowing: many contenders' costs, exact totals for few.
      const trace = emptyTrace();
      const [start, end] = ranges[0];
      const cost = async (p: { start: string; end: string }) => totalsOf(await q.aggregate(p, [])).costNanos;
      await topLeaders(store, "user", { start, end }, 7, cost, trace);
      expect(trace.costReads).toBeGreaterThan(20);
      expect(trace.exactReads).toBeLessThan(trace.costReads / 2);
      await store.close();
    }
  });

  it("busy users' partial days (hourly rollups) and quiet users' (raw records) sum to the records", async () => {
    const store = new SqliteUsageStore({ path: ":memory:", rollupThreshold: 3 });
    const rnd = seededRandom(17);
    const data = nearEqual(5);
    // Two users with far more than a few hundred records on the end days, spread over every hour.
    for (const user of ["busy-a", "busy-b"]) {
      for (let i = 0; i < 900; i++) {
        const dayNo = [0, 2, 5][i % 3];
        const cost = 900 + Math.floor(rnd() * 200);
        data.push(
          makeRecord({
            id: `busy-${user}-${i}`,
            userId: user,
            threadId: `${user}-t${i % 4}`,
            timestamp: iso(midnight + dayNo * DAY + Math.floor(rnd() * DAY)),
            inputTokens: 50,
            outputTokens: 0,
            totalTokens: 50,
            inputCostNanos: cost,
            outputCostNanos: 0,
            totalCostNanos: cost,
          }),
        );
      }
    }
    await store.append(data);
    const q = new UsageQueries(store);
    const ranges: Array<[string, string]> = [
      [iso(midnight + 6 * HOUR + 17), iso(midnight + 5 * DAY + 18 * HOUR - 3)],
      [iso(midnight + 30 * 60_000), iso(midnight + 5 * DAY + 40 * 60_000)],
      // Under a day, across one midnight.
      [iso(midnight + 2 * DAY - 5 * HOUR - 7), iso(midnight + 2 * DAY + 7 * HOUR + 11)],
      [iso(midnight + 5 * DAY + 2 * HOUR + 1), iso(midnight + 5 * DAY + 2 * HOUR + 40 * 60_000)],
    ];
    for (const [start, end] of ranges) {
      const reference = aggregateInMemory(data, { filter: { start, end }, groupBy: ["user"] });
      const keys = reference.map((r) => ({ user: r.key.user! }));
      const costs = new Map((await store.leaderCosts("user", keys, { start, end })).map((r) => [r.user, r.costNanos]));
      expect(costs).toEqual(new Map(reference.map((r) => [r.key.user!, r.costNanos])));
      const totals = await store.leaderTotals("user", keys, { start, end });
      expect(totals.map((r) => [r.key.user, r.requests, r.totalTokens, r.costNanos]).sort()).toEqual(
        reference.map((r) => [r.key.user, r.requests, r.totalTokens, r.costNanos]).sort(),
      );
      for (const limit of [1, 5]) expect(await actualLeaders(q, "user", start, end, limit)).toEqual(expectedLeaders(data, "user", start, end, limit));
    }
    await store.close();
  });

  it("leaderCosts equals the records' costs, from the window and without it", async () => {
    const store = new SqliteUsageStore({ path: ":memory:", rollupThreshold: 3 });
    const data = nearEqual(3);
    await store.append(data);
    const rnd = seededRandom(9);
    const ranges: Array<[string, string]> = [
      [iso(midnight + 6 * HOUR + 17), iso(midnight + 5 * DAY + 18 * HOUR)],
      [iso(midnight + DAY), iso(midnight + 3 * DAY)],
      [iso(midnight + 2 * DAY + 10 * HOUR), iso(midnight + 2 * DAY + 12 * HOUR + 5)],
    ];
    for (const entity of ["user", "thread"] as const) {
      for (const [start, end] of ranges) {
        const groupBy = entity === "user" ? (["user"] as const) : (["thread", "user"] as const);
        const reference = new Map(
          aggregateInMemory(data, { filter: { start, end }, groupBy: [...groupBy] }).map((r) => [JSON.stringify([r.key.thread ?? null, r.key.user]), r.costNanos]),
        );
        const keys: LeaderKey[] = [...reference.keys()]
          .filter(() => rnd() < 0.3)
          .map((k) => JSON.parse(k) as [string | null, string])
          .map(([thread, user]) => (entity === "user" ? { user } : { thread: thread!, user }));
        keys.push(entity === "user" ? { user: "nobody" } : { thread: "none", user: "nobody" });
        const asMap = (rows: Array<LeaderKey & { costNanos: number }>) =>
          new Map(rows.map((r) => [JSON.stringify([r.thread ?? null, r.user]), r.costNanos]));
        const want = new Map(keys.map((k) => JSON.stringify([k.thread ?? null, k.user])).filter((k) => reference.has(k)).map((k) => [k, reference.get(k)!]));
        expect(want.size).toBeGreaterThan(10);
        // Without a window: the per-day tables.
        expect(asMap(await store.leaderCosts(entity, keys, { start, end }))).toEqual(want);
        // With the window of the range's whole days, built as a leaderboard would.
        const first = Math.ceil(Date.parse(start) / DAY) * DAY;
        const last = Math.floor(Date.parse(end) / DAY) * DAY;
        if (last - first >= 2 * DAY) {
          await store.leaders(entity, [{ start: iso(first).slice(0, 10), end: iso(last).slice(0, 10) }], 0, 1);
          expect(store.database.prepare("SELECT COUNT(*) FROM usage_leader_spans WHERE entity = ?").pluck().get(entity)).toBeGreaterThan(0);
          expect(asMap(await store.leaderCosts(entity, keys, { start, end }))).toEqual(want);
        }
      }
    }
    await store.close();
  });

  it("ranked lists read page by page are one ranking, highest cost first", async () => {
    const store = new SqliteUsageStore({ path: ":memory:" });
    const data = nearEqual(4);
    await store.append(data);
    const spans = [
      { start: iso(midnight + DAY).slice(0, 10), end: iso(midnight + 5 * DAY).slice(0, 10) },
      { start: iso(midnight + 5 * DAY).slice(0, 10), end: iso(midnight + 6 * DAY).slice(0, 10) },
    ];
    for (const entity of ["user", "thread"] as const) {
      const whole = await store.leaders(entity, spans, 0, 10_000);
      const paged = [];
      for (let offset = 0, size = 16; ; offset += size, size *= 2) {
        const page = await store.leaders(entity, spans, offset, size);
        paged.push(...page);
        if (page.length === 0) break;
      }
      const bySpan = (rows: typeof whole, i: number) => rows.filter((r) => r.span === i);
      for (const i of [0, 1]) {
        const costs = bySpan(paged, i).map((r) => r.costNanos);
        expect(costs).toEqual([...costs].sort((a, b) => b - a));
        expect(bySpan(paged, i).map((r) => r.costNanos)).toEqual(bySpan(whole, i).map((r) => r.costNanos));
        // Each entity once, and the costs are the records' over the span.
        const [start, end] = [spans[i].start + "T00:00:00.000Z", spans[i].end + "T00:00:00.000Z"];
        const groupBy = entity === "user" ? ["user" as const] : ["thread" as const, "user" as const];
        const reference = aggregateInMemory(data, { filter: { start, end }, groupBy }).map((r) => r.costNanos).sort((a, b) => b - a);
        expect(costs).toEqual(reference);
        const ids = bySpan(paged, i).map((r) => `${r.thread}/${r.user}`);
        expect(new Set(ids).size).toBe(ids.length);
      }
    }
    await store.close();
  });
});
