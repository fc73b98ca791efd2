/**
 * The leaderboard algorithm (src/query/leaderboard.ts) on the real SQLite store: exact
 * against the reference for many datasets and ranges, equal to the answer of a store
 * without the fast path, bounded in what it reads when leaders stand out, and working on
 * a database written before the leaderboard tables existed.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { emptyTrace, hasLeaderboards, topLeaders } from "../../src/query/leaderboard.js";
import { UsageQueries, totalsOf } from "../../src/query/usage-queries.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { MIGRATIONS } from "../../src/stores/sqlite/schema.js";
import type { UsageStore } from "../../src/stores/types.js";
import { actualLeaders, expectedLeaders, leaderDataset, leaderRanges } from "../contract/leaderboards.js";
import { makeRecord, seededRandom } from "../contract/make-record.js";

const DAY = 86_400_000;
const base = Date.UTC(2031, 2, 3, 5);

/** The same store with the fast path hidden: the core's fallback answers. */
function withoutFastPath(store: UsageStore): UsageStore {
  return new Proxy(store, {
    get: (target, prop) => (prop === "leaders" || prop === "leaderTotals" ? undefined : Reflect.get(target, prop, target)),
  });
}

describe("leaderboards on SQLite", () => {
  it("equal the reference and the fallback for many datasets, ranges and limits", async () => {
    for (const seed of [1, 2, 3]) {
      const store = new SqliteUsageStore({ path: ":memory:", rollupThreshold: 40 });
      const data = leaderDataset(seed, base, 9, 1500, `s${seed}`);
      await store.append(data);
      const fast = new UsageQueries(store);
      const slow = new UsageQueries(withoutFastPath(store));
      expect(hasLeaderboards(store)).toBe(true);
      expect(hasLeaderboards(withoutFastPath(store))).toBe(false);
      for (const [start, end] of [...leaderRanges(base, 9), [new Date(base + DAY).toISOString(), new Date(base + 8 * DAY - 1).toISOString()]]) {
        for (const entity of ["user", "thread"] as const) {
          for (const limit of [1, 5, 20]) {
            const expected = expectedLeaders(data, entity, start, end, limit);
            expect(await actualLeaders(fast, entity, start, end, limit), `seed ${seed} ${entity} ${start}..${end}`).toEqual(expected);
            expect(await actualLeaders(slow, entity, start, end, limit)).toEqual(expected);
          }
        }
      }
      await store.close();
    }
  });

  it("reads a bounded part of the per-day lists when a few users lead", async () => {
    const store = new SqliteUsageStore({ path: ":memory:" });
    const rand = seededRandom(5);
    // 2,000 users over 20 days: 10 spend a hundred times more per call than everyone else.
    const records = Array.from({ length: 20_000 }, (_, i) => {
      const lead = i % 10 === 0;
      const user = lead ? `lead-${i % 100}` : `user-${Math.floor(rand() * 2000)}`;
      const cost = (lead ? 100_000 : 1_000) + Math.floor(rand() * 1_000);
      return makeRecord({ id: `b-${i}`, userId: user, threadId: null, timestamp: new Date(base + Math.floor((i / 20_000) * 20 * DAY)).toISOString(), inputCostNanos: cost, outputCostNanos: 0, totalCostNanos: cost });
    });
    await store.append(records);
    const range = { start: new Date(base + 2 * DAY + 1234).toISOString(), end: new Date(base + 19 * DAY - 999).toISOString() };
    const q = new UsageQueries(store);
    const trace = emptyTrace();
    const top = await topLeaders(store, "user", range, 10, async (p) => totalsOf(await q.aggregate(p, [])).costNanos, trace);
    expect(top.map((r) => r.key.user)).toEqual(expectedLeaders(records, "user", range.start, range.end, 10).map((r) => r.key));
    const userDays = (store.database.prepare("SELECT COUNT(*) FROM usage_user_days WHERE day >= ? AND day <= ?").pluck().get(range.start.slice(0, 10), range.end.slice(0, 10)) as number);
    expect(userDays).toBeGreaterThan(10_000);
    expect(trace.listRows).toBeLessThan(200);
    expect(trace.exactReads).toBeLessThanOrEqual(128);
    await store.close();
  });

  it("a database written before the leaderboard tables is upgraded and backfilled", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "tt-leaders-")), "old.db");
    const data = leaderDataset(4, base, 4, 300, "old");
    // A version-1 file: the first migration only, records inserted by the store of that layout.
    const writer = new SqliteUsageStore({ path });
    await writer.append(data);
    await writer.close();
    const db = new Database(path);
    db.exec(`DROP TABLE usage_user_days; DROP TABLE usage_thread_days; DROP TABLE usage_leader_spans; DROP TABLE usage_leader_span_costs;`);
    db.pragma("user_version = 1");
    db.close();

    const store = new SqliteUsageStore({ path });
    expect(store.database.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    const q = new UsageQueries(store);
    for (const [start, end] of leaderRanges(base, 4)) {
      for (const entity of ["user", "thread"] as const) {
        expect(await actualLeaders(q, entity, start, end, 5)).toEqual(expectedLeaders(data, entity, start, end, 5));
      }
    }
    await store.close();
  });
});
