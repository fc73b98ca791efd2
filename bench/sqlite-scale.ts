/**
 * SQLite at scale: sustained ingest of 1,000,000 records with every index and rollup
 * the queries need, next to a bare insert of the same rows into an unindexed table;
 * then query latencies on that database (typical user, heavy user with 200,000
 * records, a thread) next to the same questions answered by plain SQL over raw rows.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageQueries } from "../src/query/usage-queries.js";
import { recordToValues } from "../src/stores/sqlite/rows.js";
import { SqliteUsageStore } from "../src/stores/sqlite/index.js";
import { DAY_MS, HEAVY_USER, datasetChunks } from "./dataset.js";
import { fmt, medianMs, type Row } from "./stats.js";

/** Records per transaction for the sustained-ingest figure (the writer's default is 1,000). */
const BULK_BATCH = 5000;

export async function benchSqliteScale(total = 1_000_000): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), "tt-bench-"));
  const endMs = Date.UTC(2026, 10, 1);
  const options = { total, users: 10_000, heavyShare: 0.2, endMs, days: 90 };
  const store = new SqliteUsageStore({ path: join(dir, "usage.db") });
  const bare = new SqliteUsageStore({ path: join(dir, "bare.db") }).database;
  bare.exec(`CREATE TABLE bare AS SELECT * FROM usage_records WHERE 0`); // same columns, no index, no key
  const columns = bare.prepare("PRAGMA table_info(bare)").all().length;
  const insertBare = bare.prepare(`INSERT INTO bare VALUES (${Array(columns).fill("?").join(", ")})`);
  const bareBatch = bare.transaction((rows: unknown[][]) => {
    for (const row of rows) insertBare.run(row);
  });

  let storeNs = 0n;
  let bareNs = 0n;
  let peakRss = 0;
  for (const chunk of datasetChunks(options, BULK_BATCH)) {
    let t0 = process.hrtime.bigint();
    await store.append(chunk);
    storeNs += process.hrtime.bigint() - t0;
    // The bare insert also pays for turning records into rows, as the store does.
    t0 = process.hrtime.bigint();
    bareBatch(chunk.map(recordToValues));
    bareNs += process.hrtime.bigint() - t0;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const storeRate = total / (Number(storeNs) / 1e9);
  const bareRate = total / (Number(bareNs) / 1e9);

  // Queries: 30 days up to the dataset's end, as a budget page would ask.
  const q = new UsageQueries(store);
  const range = { start: new Date(endMs - 30 * DAY_MS - 1234), end: new Date(endMs - 999) };
  const db = store.database;
  const typicalUsers = Array.from({ length: 50 }, (_, i) => `user-${i * 97}`);
  const timeIt = medianMs;
  const rawStats = db.prepare(
    `SELECT model, agent_name, substr(timestamp, 1, 13) AS hour, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(total_cost_nanos)
     FROM usage_records WHERE user_id = ? AND timestamp >= ? AND timestamp < ? GROUP BY model, agent_name, hour`,
  );
  const rawThread = db.prepare(
    `SELECT model, agent_name, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(total_cost_nanos) FROM usage_records WHERE thread_id = ? GROUP BY model, agent_name`,
  );
  const s = range.start.toISOString();
  const e = range.end.toISOString();
  let u = 0;
  const typical = await timeIt(() => q.getUserUsage(typicalUsers[u++ % typicalUsers.length], range), 200);
  u = 0;
  const typicalRaw = await timeIt(() => rawStats.all(typicalUsers[u++ % typicalUsers.length], s, e), 200);
  const heavy = await timeIt(() => q.getUserUsage(HEAVY_USER, range), 30);
  const heavyRaw = await timeIt(() => rawStats.all(HEAVY_USER, s, e), 10);
  const threads = Array.from({ length: 50 }, (_, i) => `user-${i * 31}-t${i % 5}`);
  let t = 0;
  const thread = await timeIt(() => q.getThreadUsage(threads[t++ % threads.length]), 200);
  t = 0;
  const threadRaw = await timeIt(() => rawThread.all(threads[t++ % threads.length]), 200);
  const heavyRows = (db.prepare("SELECT COUNT(*) AS n FROM usage_records WHERE user_id = ?").get(HEAVY_USER) as { n: number }).n;
  const heavyRollupRows = (
    db.prepare("SELECT COUNT(*) AS n FROM usage_rollup_hourly WHERE user_id = ? AND hour >= ? AND hour < ?").get(HEAVY_USER, s.slice(0, 13), e.slice(0, 13)) as { n: number }
  ).n;

  await store.close();

  // The writer's default batch size, on a fresh file: smaller transactions share fewer pages.
  const small = new SqliteUsageStore({ path: join(dir, "small-batches.db") });
  let smallNs = 0n;
  const smallTotal = Math.min(total, 200_000);
  for (const chunk of datasetChunks({ ...options, total: smallTotal, seed: 11 }, 1000)) {
    const t0 = process.hrtime.bigint();
    await small.append(chunk);
    smallNs += process.hrtime.bigint() - t0;
  }
  await small.close();
  rmSync(dir, { recursive: true, force: true });
  const n = total.toLocaleString("en-US");
  return [
    { section: "SQLite ingest", measure: `${n} records over 10,000 users, batches of ${BULK_BATCH.toLocaleString("en-US")}, id key + 3 indexes + global and per-user rollups`, value: `${fmt(storeRate)} rec/s`, note: "target ≥ 50,000" },
    { section: "SQLite ingest", measure: "same rows, bare insert into an unindexed table", value: `${fmt(bareRate)} rec/s` },
    { section: "SQLite ingest", measure: "store ÷ bare insert", value: `${fmt(storeRate / bareRate, 2)}×` },
    { section: "SQLite ingest", measure: "peak RSS during ingest", value: `${fmt(peakRss / 2 ** 20)} MiB` },
    {
      section: "SQLite ingest",
      measure: `first ${smallTotal.toLocaleString("en-US")} records in batches of 1,000 (the writer's default), fresh file`,
      value: `${fmt(smallTotal / (Number(smallNs) / 1e9))} rec/s`,
    },
    { section: "SQLite queries", measure: "getUserUsage 30 days, typical user (median)", value: `${fmt(typical, 3)} ms`, note: `plain SQL over raw rows: ${fmt(typicalRaw, 3)} ms (${fmt(typicalRaw / typical, 1)}×)` },
    { section: "SQLite queries", measure: `getUserUsage 30 days, heavy user (${heavyRows.toLocaleString("en-US")} records in all)`, value: `${fmt(heavy, 3)} ms`, note: `plain SQL over raw rows: ${fmt(heavyRaw, 1)} ms (${fmt(heavyRaw / heavy, 1)}×); ${heavyRollupRows.toLocaleString("en-US")} rollup rows read; target < 5 ms` },
    { section: "SQLite queries", measure: "getThreadUsage (median)", value: `${fmt(thread, 3)} ms`, note: `plain SQL: ${fmt(threadRaw, 3)} ms (${fmt(threadRaw / thread, 1)}×)` },
  ];
}
