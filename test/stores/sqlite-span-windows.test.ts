/**
 * Leaderboard windows (src/stores/sqlite/span-windows.ts) derived from a neighbouring
 * window instead of built from the day tables: the same rows as a build from the records
 * (entities only on a dropped day removed, entities whose records all cost 0 kept), also
 * after late records and re-pricing, and a span too far from every window built whole.
 */
import { describe, expect, it } from "vitest";
import type { UsageRecord } from "../../src/record/types.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { aggregateInMemory, type LeaderEntity } from "../../src/stores/types.js";
import { makeRecord, seededRandom } from "../contract/make-record.js";

const DAY = 86_400_000;
const midnight = Date.UTC(2032, 6, 1);
const day = (n: number) => new Date(midnight + n * DAY).toISOString().slice(0, 10);

function dataset(): UsageRecord[] {
  const rnd = seededRandom(21);
  const rec = (i: number, user: string, thread: string | null, dayNo: number, cost: number) =>
    makeRecord({
      id: `sw-${i}`,
      userId: user,
      threadId: thread,
      timestamp: new Date(midnight + dayNo * DAY + Math.floor(rnd() * DAY)).toISOString(),
      inputCostNanos: cost,
      outputCostNanos: 0,
      totalCostNanos: cost,
      priced: cost > 0,
    });
  const out = Array.from({ length: 600 }, (_, i) => {
    const user = `u${Math.floor(rnd() * 30)}`;
    return rec(i, user, rnd() < 0.2 ? null : `${user}-t${Math.floor(rnd() * 3)}`, Math.floor(rnd() * 12), 1_000 + Math.floor(rnd() * 9_000));
  });
  // Only on day 1 (gone from every window that starts later), and only records that cost nothing.
  out.push(rec(1001, "gone", "gone-t", 1, 7_000), rec(1002, "gone", "gone-t", 1, 3_000));
  for (let d = 2; d < 9; d++) out.push(rec(1010 + d, "free", "free-t", d, 0));
  return out;
}

function windowRows(store: SqliteUsageStore, entity: LeaderEntity, start: string, end: string) {
  return store.database
    .prepare("SELECT thread_id, user_id, cost_nanos FROM usage_leader_span_costs WHERE entity = ? AND first_day = ? AND end_day = ? ORDER BY thread_id, user_id")
    .all(entity, start, end);
}

function expectedRows(records: UsageRecord[], entity: LeaderEntity, start: string, end: string) {
  const rows = aggregateInMemory(records, { filter: { start: `${start}T00:00:00.000Z`, end: `${end}T00:00:00.000Z` }, groupBy: ["thread", "user"] });
  const sums = new Map<string, { thread_id: string; user_id: string; cost_nanos: number }>();
  for (const r of rows) {
    if (entity === "thread" && r.key.thread === null) continue;
    const thread = entity === "thread" ? r.key.thread! : "";
    const k = `${thread}\u0000${r.key.user}`;
    const s = sums.get(k) ?? { thread_id: thread, user_id: r.key.user!, cost_nanos: 0 };
    s.cost_nanos += r.costNanos;
    sums.set(k, s);
  }
  return [...sums.values()].sort((a, b) => (a.thread_id < b.thread_id ? -1 : a.thread_id > b.thread_id ? 1 : a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
}

describe("leaderboard windows derived from a neighbour", () => {
  it("hold what a build from the records holds, for shifted spans, after late records and re-pricing", async () => {
    for (const entity of ["user", "thread"] as const) {
      const store = new SqliteUsageStore({ path: ":memory:" });
      let data = dataset();
      await store.append(data);
      const ask = (a: number, b: number) => store.leaders(entity, [{ start: day(a), end: day(b) }], 0, 3);

      await ask(1, 8); // built from the day tables
      expect(windowRows(store, entity, day(1), day(8))).toEqual(expectedRows(data, entity, day(1), day(8)));
      await ask(2, 9); // derived: day 1 dropped, day 8 added
      const shifted = windowRows(store, entity, day(2), day(9));
      expect(shifted).toEqual(expectedRows(data, entity, day(2), day(9)));
      expect(shifted.some((r) => (r as { user_id: string }).user_id === "gone")).toBe(false);
      expect(shifted).toContainEqual({ thread_id: entity === "thread" ? "free-t" : "", user_id: "free", cost_nanos: 0 });

      // Late records and re-pricing on days both windows cover, then the next day's span.
      const late = Array.from({ length: 40 }, (_, i) =>
        makeRecord({ id: `late-${i}`, userId: `u${i % 7}`, threadId: `u${i % 7}-t1`, timestamp: new Date(midnight + (3 + (i % 6)) * DAY + i * 1000).toISOString(), inputCostNanos: 500, outputCostNanos: 0, totalCostNanos: 500 }),
      );
      await store.append(late);
      const repriced = data.filter((r, i) => i % 11 === 0 && r.timestamp >= `${day(3)}`);
      await store.updateCosts(repriced.map((r) => ({ id: r.id, userId: r.userId, inputCostNanos: 1, outputCostNanos: 0, totalCostNanos: 1, priced: true, priceSource: "override" })));
      const ids = new Set(repriced.map((r) => r.id));
      data = [...data, ...late].map((r) => (ids.has(r.id) ? { ...r, inputCostNanos: 1, totalCostNanos: 1 } : r));
      await ask(3, 10);
      expect(windowRows(store, entity, day(3), day(10))).toEqual(expectedRows(data, entity, day(3), day(10)));
      expect(windowRows(store, entity, day(2), day(9))).toEqual(expectedRows(data, entity, day(2), day(9)));

      // Far from every window: built from the day tables.
      await ask(0, 3);
      expect(windowRows(store, entity, day(0), day(3))).toEqual(expectedRows(data, entity, day(0), day(3)));
      await store.close();
    }
  });

  it("a neighbouring window is the source (what it holds carries over)", async () => {
    const store = new SqliteUsageStore({ path: ":memory:" });
    await store.append(dataset());
    await store.leaders("user", [{ start: day(1), end: day(8) }], 0, 3);
    // Marks a user the days that differ do not touch (no records on days 1 and 8).
    const untouched = store.database
      .prepare(
        `SELECT user_id FROM usage_leader_span_costs WHERE entity = 'user' AND first_day = ? AND end_day = ?
         AND user_id NOT IN (SELECT user_id FROM usage_user_days WHERE day IN (?, ?)) LIMIT 1`,
      )
      .pluck()
      .get(day(1), day(8), day(1), day(8)) as string;
    expect(untouched).toBeDefined();
    store.database.prepare("UPDATE usage_leader_span_costs SET cost_nanos = cost_nanos + 1 WHERE entity = 'user' AND user_id = ?").run(untouched);
    await store.leaders("user", [{ start: day(2), end: day(9) }], 0, 3);
    const derived = store.database.prepare("SELECT cost_nanos FROM usage_leader_span_costs WHERE entity = 'user' AND first_day = ? AND user_id = ?").pluck().get(day(2), untouched);
    const truth = store.database.prepare("SELECT SUM(cost_nanos) FROM usage_user_days WHERE user_id = ? AND day >= ? AND day < ?").pluck().get(untouched, day(2), day(9));
    expect(derived).toBe((truth as number) + 1);
    await store.close();
  });
});
