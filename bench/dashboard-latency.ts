/**
 * The dashboard's per-model latency view: `/latency-by-model` reads the newest
 * `maxRecords` raw records of the range (percentiles need the values, the rollups
 * keep sums), so its cost is set by that bound, not by the range. Measured on a
 * SQLite file of `total` records over 30 days, next to the exact per-model aggregate
 * the same page already asks for (`getUsageByModel`, answered from rollups).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modelLatency } from "../src/query/model-latency.js";
import { UsageQueries } from "../src/query/usage-queries.js";
import { SqliteUsageStore } from "../src/stores/sqlite/index.js";
import { DAY_MS, datasetChunks } from "./dataset.js";
import { fmt, medianMs, type Row } from "./stats.js";

export async function benchDashboardLatency(total = 200_000): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), "tt-bench-"));
  const endMs = Date.UTC(2026, 10, 1);
  const store = new SqliteUsageStore({ path: join(dir, "usage.db") });
  try {
    for (const chunk of datasetChunks({ total, users: 1000, heavyShare: 0.2, endMs, days: 30 }, 5000)) await store.append(chunk);
    const q = new UsageQueries(store);
    const range = { start: new Date(endMs - 30 * DAY_MS).toISOString(), end: new Date(endMs).toISOString() };
    const timeIt = async (f: () => Promise<unknown>, runs: number) => {
      await f(); // warm the page cache and statement cache
      return medianMs(f, runs);
    };
    const byModel = await timeIt(() => q.getUsageByModel(range), 15);
    const sample5k = await timeIt(() => modelLatency(q, { ...range, maxRecords: 5000 }), 15);
    const sample20k = await timeIt(() => modelLatency(q, { ...range, maxRecords: 20000 }), 7);
    const note = `${total.toLocaleString("en-US")} records in 30 days, median`;
    return [
      { section: "dashboard latency view", measure: "per-model aggregate, 30 days (ms)", value: fmt(byModel), note },
      { section: "dashboard latency view", measure: "p50/p95 per model, newest 5,000 records (ms)", value: fmt(sample5k), note: `${note}; default bound` },
      { section: "dashboard latency view", measure: "p50/p95 per model, newest 20,000 records (ms)", value: fmt(sample20k), note: `${note}; largest bound` },
    ];
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
