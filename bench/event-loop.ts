/**
 * What SQLite writes cost the agent's thread: 200,000 records appended in batches of
 * 1,000, by the in-process store and by the worker-thread store, with Node's event-loop
 * delay histogram running (the delay another task, a model call's callback say, would see).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { SqliteUsageStore, SqliteWorkerStore } from "../src/stores/sqlite/index.js";
import type { UsageStore } from "../src/stores/types.js";
import { datasetChunks } from "./dataset.js";
import { fmt, type Row } from "./stats.js";

async function measure(store: UsageStore, total: number): Promise<{ rate: number; p99: number; max: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const t0 = process.hrtime.bigint();
  for (const chunk of datasetChunks({ total, users: 10_000, heavyShare: 0.2, endMs: Date.UTC(2026, 10, 1), days: 90 }, 1000)) {
    await store.append(chunk);
    // Yield as the writer does between batches, so the histogram's timer gets its turns.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  histogram.disable();
  await store.close();
  return { rate: total / seconds, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 };
}

export async function benchEventLoop(total = 200_000): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), "tt-loop-"));
  const inProcess = await measure(new SqliteUsageStore({ path: join(dir, "a.db") }), total);
  const worker = await measure(new SqliteWorkerStore({ path: join(dir, "b.db") }), total);
  rmSync(dir, { recursive: true, force: true });
  const section = "SQLite writes and the event loop";
  const n = total.toLocaleString("en-US");
  return [
    { section, measure: `${n} records in batches of 1,000, in-process store: event-loop delay p99 / max`, value: `${fmt(inProcess.p99, 1)} / ${fmt(inProcess.max, 1)} ms`, note: `${fmt(inProcess.rate)} rec/s` },
    { section, measure: "same, worker-thread store (sqliteWorker: true)", value: `${fmt(worker.p99, 1)} / ${fmt(worker.max, 1)} ms`, note: `${fmt(worker.rate)} rec/s` },
  ];
}
