/**
 * The store is down for long (another connection holds the write lock, busy timeout 0)
 * while 50,000 records arrive the way an agent produces them (a few hundred per event
 * loop turn). The writer must keep at most `maxBufferedRecords` in memory, journal the
 * rest, and once the store is back store exactly 50,000.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { quietLogger } from "./support/children.js";
import { readUsageFile } from "./support/sqlite-checks.js";

const TOTAL = 50_000;
const BOUND = 1000;
const PER_TURN = 250;

interface Outcome {
  maxInMemory: number;
  /** The most records that arrived from the start of one journal append to the end of the next. */
  maxArrivalsDuringSpill: number;
  spilled: number;
  replayed: number;
  failedAttempts: number;
  stored: ReturnType<typeof readUsageFile>;
}

/** Enqueues TOTAL records in bursts of PER_TURN against a locked file, then unlocks and flushes. */
async function runAgainstDownStore(): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), "tt-mem-"));
  const path = join(dir, "usage.db");
  const store = new SqliteUsageStore({ path, busyTimeoutMs: 0 });
  await store.getSetting("faults", "open"); // the store opens (and creates its schema) on first use
  const monitor = createTokenMonitor({
    store,
    writer: { spillDir: join(dir, "spill"), batchSize: 200, flushIntervalMs: 5, retryDelayMs: 5, maxRetryDelayMs: 20, maxBufferedRecords: BOUND },
    logger: quietLogger,
  });
  const lock = new Database(path);
  lock.exec("BEGIN EXCLUSIVE");
  lock.prepare("INSERT INTO settings VALUES ('faults', 'lock', '1')").run();

  const writer = monitor.writer;
  // Memory holds the bound plus what arrives between the start of one journal append and the
  // end of the next (the writer spills the overflow when an append starts; what comes in after
  // that waits for the next one). That allowance depends on this machine's speed, so it is
  // measured per run instead of guessed.
  const journal = (writer as unknown as { journal: { append(records: unknown[]): Promise<void> } }).journal;
  const append = journal.append.bind(journal);
  let maxArrivalsDuringSpill = 0;
  let previousStart: number | undefined;
  journal.append = async (records) => {
    const start = writer.stats.enqueued;
    try {
      await append(records);
    } finally {
      const since = previousStart ?? start;
      maxArrivalsDuringSpill = Math.max(maxArrivalsDuringSpill, writer.stats.enqueued - since);
      previousStart = start;
    }
  };
  // In memory = pending minus what sits in the journal (spilled and not yet replayed).
  const inMemory = () => writer.pending - (writer.stats.spilled - writer.stats.replayed);
  const heapBefore = process.memoryUsage().heapUsed;
  let maxInMemory = 0;
  let maxHeap = heapBefore;
  const t0 = performance.now();
  for (let n = 0; n < TOTAL; ) {
    for (let k = 0; k < PER_TURN; k++, n++) {
      await monitor.trackUsage({ id: `m-${n}`, userId: `u-${n % 7}`, provider: "openai", model: "gpt-4o-mini", inputTokens: 50 + (n % 11), outputTokens: 5 });
    }
    // One timer turn per burst, as an agent awaiting its model would give; the writer runs in between.
    await new Promise((r) => setTimeout(r, 1));
    maxInMemory = Math.max(maxInMemory, inMemory());
    maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed);
  }
  // Let the writer catch up with the last bursts while still down.
  await monitor.flush({ timeoutMs: 300 }).catch(() => undefined);
  maxInMemory = Math.max(maxInMemory, inMemory());
  const enqueueMs = performance.now() - t0;
  const spilled = writer.stats.spilled;
  const storedWhileDown = readUsageFile(path).ids.length;

  lock.exec("COMMIT");
  lock.close();
  const t1 = performance.now();
  await monitor.flush({ timeoutMs: 30_000 });
  const recoverMs = performance.now() - t1;
  const stored = readUsageFile(path);
  console.log(
    `[faults] store down for ${TOTAL} records (bound ${BOUND}, bursts of ${PER_TURN}): max in memory ${maxInMemory}, ` +
      `most arrivals over two journal appends ${maxArrivalsDuringSpill}, ` +
      `spilled ${spilled} (at recovery), failed attempts ${writer.stats.failedAttempts}, stored while down ${storedWhileDown}, ` +
      `heapUsed growth peak ${((maxHeap - heapBefore) / 1048576).toFixed(1)} MiB, enqueue phase ${enqueueMs.toFixed(0)} ms, ` +
      `recovery ${recoverMs.toFixed(0)} ms (replayed ${writer.stats.replayed})`,
  );
  await monitor.close();
  return { maxInMemory, maxArrivalsDuringSpill, spilled: writer.stats.spilled, replayed: writer.stats.replayed, failedAttempts: writer.stats.failedAttempts, stored };
}

describe("memory buffer full while the store is down", () => {
  let outcome: Outcome;
  beforeAll(async () => {
    outcome = await runAgainstDownStore();
  });

  it("spills to the journal and, once the store is back, stores exactly every record", () => {
    expect(outcome.failedAttempts).toBeGreaterThan(0);
    // All but the memory share went through the journal and came back from it.
    expect(outcome.spilled).toBeGreaterThanOrEqual(TOTAL / 2);
    expect(outcome.replayed).toBe(outcome.spilled);
    expect(outcome.stored.duplicateIds).toEqual([]);
    expect(outcome.stored.ids.length).toBe(TOTAL);
    expect(new Set(outcome.stored.ids).size).toBe(TOTAL);
    let expectedInput = 0;
    for (let n = 0; n < TOTAL; n++) expectedInput += 50 + (n % 11);
    expect(outcome.stored.inputTokens).toBe(expectedInput);
  });

  // The writer spills in the background (never on the agent's path), so memory holds the
  // bound plus what arrives while one journal write runs: bounded, not 50,000.
  it("keeps memory bounded: maxBufferedRecords plus the arrivals between two journal writes", () => {
    // Plus two bursts: memory is sampled once per burst, and the writer's loop takes its next
    // turn after the burst that crossed the bound.
    expect(outcome.maxInMemory).toBeLessThanOrEqual(BOUND + outcome.maxArrivalsDuringSpill + 2 * PER_TURN);
  });
});
