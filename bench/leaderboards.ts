/**
 * Leaderboards on SQLite at 1M and 10M records (10,000 users, one heavy user with a fifth
 * of the calls, 90 days): `getTopUsers` / `getTopThreads` over 30 days through the fast
 * path (per-day totals, a window over the range's whole days, the threshold algorithm),
 * next to the same questions answered by grouping the range (the path stores without the
 * fast path take, and the only one before). The 1M database is written through the store
 * itself, in transactions of 20,000, so every table is what live appends leave behind.
 * The 10M one would take most of an hour that way on this machine; it is built the fast
 * honest way instead (see `bulkBuild`): the same rows, indexes and rollups, in bulk.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { emptyTrace, topLeaders } from "../src/query/leaderboard.js";
import { UsageQueries, totalsOf } from "../src/query/usage-queries.js";
import { recordToValues } from "../src/stores/sqlite/rows.js";
import { SqliteUsageStore } from "../src/stores/sqlite/index.js";
import type { UsageRecord } from "../src/record/types.js";
import type { UsageStore } from "../src/stores/types.js";
import { DAY_MS, datasetChunks } from "./dataset.js";
import { fmt, median, type Row } from "./stats.js";

const BATCH = 20_000;

/** The same store with the fast path hidden: what the core does without it. */
function withoutFastPath(store: UsageStore): UsageStore {
  return new Proxy(store, {
    get: (target, prop) => (prop === "leaders" || prop === "leaderTotals" ? undefined : Reflect.get(target, prop, target)),
  });
}

/**
 * The same database as appending every record, built in bulk: the raw rows inserted with the
 * record table's secondary indexes dropped and recreated afterwards (one sort each instead
 * of millions of random inserts), then every rollup and leaderboard table computed by the
 * store's own `rebuildRollups()` (the contract operation that recomputes them from the records).
 */
async function bulkBuild(store: SqliteUsageStore, chunks: Iterable<UsageRecord[]>): Promise<void> {
  const db = store.database;
  const indexes = db
    .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'usage_records' AND sql IS NOT NULL")
    .all() as Array<{ name: string; sql: string }>;
  for (const ix of indexes) db.exec(`DROP INDEX ${ix.name}`);
  const insert = db.prepare(`INSERT INTO usage_records VALUES (${"?, ".repeat(35)}?)`);
  const tx = db.transaction((rows: UsageRecord[]) => {
    for (const r of rows) insert.run(recordToValues(r));
  });
  for (const chunk of chunks) tx(chunk);
  for (const ix of indexes) db.exec(ix.sql);
  await store.rebuildRollups();
}

async function timeMs(f: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export async function benchLeaderboards(sizes: number[] = [1_000_000, 10_000_000]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const total of sizes) {
    const dir = mkdtempSync(join(tmpdir(), "tt-bench-leaders-"));
    const endMs = Date.UTC(2026, 10, 1);
    const store = new SqliteUsageStore({ path: join(dir, "usage.db") });
    const t0 = Date.now();
    const chunks = datasetChunks({ total, users: 10_000, heavyShare: 0.2, endMs, days: 90 }, BATCH);
    const bulk = total > 2_000_000;
    if (bulk) await bulkBuild(store, chunks);
    else for (const chunk of chunks) await store.append(chunk);
    const buildS = (Date.now() - t0) / 1000;
    const n = total.toLocaleString("en-US");
    const q = new UsageQueries(store);
    const slow = new UsageQueries(withoutFastPath(store));
    // "The last 30 days" asked at different moments of one day: the whole days are the same, the ends move.
    const rangeAt = (i: number) => ({ start: new Date(endMs - 30 * DAY_MS - 1234 - i * 997_001), end: new Date(endMs - 999 - i * 997_001) });
    const cost = async (piece: { start: string; end: string }) => totalsOf(await q.aggregate(piece, [])).costNanos;
    const db = store.database;
    const userDays = db.prepare("SELECT COUNT(*) FROM usage_user_days WHERE day >= ? AND day < ?").pluck().get("2026-10-01", "2026-11-01") as number;
    const threadDays = db.prepare("SELECT COUNT(*) FROM usage_thread_days WHERE day >= ? AND day < ?").pluck().get("2026-10-01", "2026-11-01") as number;

    for (const entity of ["user", "thread"] as const) {
      const name = entity === "user" ? "getTopUsers" : "getTopThreads";
      const ask = (qs: UsageQueries, i: number) => (entity === "user" ? qs.getTopUsers(rangeAt(i)) : qs.getTopThreads(rangeAt(i)));
      // The day before's "last 30 days": its window is built from the day tables (no window kept yet).
      const cold = await timeMs(() => ask(q, Math.round(DAY_MS / 997_001)));
      const first = await timeMs(() => ask(q, 0)); // the next day's: derived from the day before's window
      const samples: number[] = [];
      for (let i = 1; i <= 30; i++) samples.push(await timeMs(() => ask(q, i)));
      const trace = emptyTrace();
      const r = rangeAt(7);
      await topLeaders(store, entity, { start: r.start.toISOString(), end: r.end.toISOString() }, 10, cost, trace);
      const fallback: number[] = [];
      for (let i = 0; i < (total > 2_000_000 ? 1 : 3); i++) fallback.push(await timeMs(() => ask(slow, i)));
      const same = JSON.stringify(await ask(q, 3)) === JSON.stringify(await ask(slow, 3));
      rows.push({
        section: "leaderboards",
        measure: `${name} 30 days, top 10, ${n} records (median of 30 ranges sharing their whole days)`,
        value: `${fmt(median(samples), 2)} ms`,
        note: `target ≤ ${total > 2_000_000 ? 50 : 20} ms; ${trace.listRows.toLocaleString("en-US")} list rows + ${trace.costReads} exact costs + ${trace.exactReads} exact totals read of ${(entity === "user" ? userDays : threadDays).toLocaleString("en-US")} ${entity}-days; grouping the range instead: ${fmt(median(fallback), 0)} ms${same ? ", same answer" : ", DIFFERENT ANSWER"}`,
      });
      rows.push({
        section: "leaderboards",
        measure: `${name}, first call of a new day (derives the new span's window from the day before's: once a day for a rolling range)`,
        value: `${fmt(first, 0)} ms`,
        note: `with no window kept (built from the day tables): ${fmt(cold, 0)} ms`,
      });
    }
    rows.push({
      section: "leaderboards",
      measure: bulk
        ? `${n} records built in bulk (rows, then indexes, then rebuildRollups)`
        : `${n} records written through the store in transactions of ${BATCH.toLocaleString("en-US")}`,
      value: `${fmt(total / buildS)} rec/s`,
      note: `${fmt(buildS)} s`,
    });
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
