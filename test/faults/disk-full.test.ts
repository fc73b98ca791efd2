/**
 * A full disk, for real: the database and the spill journal on a small tmpfs filled to
 * the last block. A failed journal append leaves no partial line; with both the store
 * and the journal refusing, memory stays bounded (oldest records dropped, counted and
 * reported) and warnings are rate-limited; once space returns everything kept is stored
 * exactly once. Also the journal's own size bound, with a store held locked.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { SpillJournal } from "../../src/writer/index.js";
import { makeRecord } from "../contract/make-record.js";
import { readUsageFile } from "./support/sqlite-checks.js";
import { fillFileSystem, isMounted, mountTmpfs } from "./support/tmpfs.js";

const fs = mountTmpfs("16m");
if (!isMounted(fs)) console.warn(`[faults] disk-full tests skipped: ${fs.reason}`);
afterAll(() => {
  if (isMounted(fs)) fs.unmount();
});

describe.skipIf(!isMounted(fs))("disk full", () => {
  it("a failed journal append leaves no partial line, so the next append's first record is not lost", async () => {
    if (!isMounted(fs)) return;
    const dir = join(fs.dir, "journal-a");
    mkdirSync(dir);
    const journal = new SpillJournal(dir);
    const filler = fillFileSystem(fs.dir, 48 * 1024);
    const big = Array.from({ length: 400 }, (_, i) => makeRecord({ id: `big-${i}`, userId: "full" }));
    await expect(journal.append(big)).rejects.toMatchObject({ code: "ENOSPC" });
    expect(journal.pending).toBe(0);
    for (const name of readdirSync(dir)) {
      const text = readFileSync(join(dir, name), "utf8");
      expect(text === "" || text.endsWith("\n")).toBe(true);
    }
    rmSync(filler);
    const next = Array.from({ length: 10 }, (_, i) => makeRecord({ id: `next-${i}`, userId: "full" }));
    await journal.append(next);
    const replayed: string[] = [];
    await journal.replay(async (batch) => void replayed.push(...batch.map((r) => r.id)), 100);
    // Exactly what the journal accepted: none of the refused batch, every one of the next.
    expect(replayed.sort()).toEqual(next.map((r) => r.id).sort());
  });

  it("store and journal both full: memory bounded, oldest dropped and counted, warnings rate-limited; all the rest stored once space returns", async () => {
    if (!isMounted(fs)) return;
    const dir = join(fs.dir, "both");
    mkdirSync(join(dir, "spill"), { recursive: true });
    const path = join(dir, "usage.db");
    const store = new SqliteUsageStore({ path });
    await store.append([]); // the schema exists before the disk fills
    const lines: string[] = [];
    const BOUND = 1000;
    const MEMORY = 2000;
    const monitor = createTokenMonitor({
      store,
      env: {},
      logger: { warn: (m) => void lines.push(m), error: (m) => void lines.push(m) },
      writer: { spillDir: join(dir, "spill"), batchSize: 200, flushIntervalMs: 5, retryDelayMs: 5, maxRetryDelayMs: 50, maxBufferedRecords: BOUND, maxMemoryRecords: MEMORY },
    });
    const filler = fillFileSystem(fs.dir);
    const writer = monitor.writer;
    const inMemory = () => writer.pending - (writer.stats.spilled - writer.stats.replayed);
    const TOTAL = 30_000;
    const PER_TURN = 250;
    let maxInMemory = 0;
    let maxAfterJournalFailed = 0;
    const heap0 = process.memoryUsage().heapUsed;
    for (let n = 0; n < TOTAL; ) {
      for (let k = 0; k < PER_TURN; k++, n++) {
        await monitor.trackUsage({ id: `f-${n}`, userId: `u-${n % 5}`, provider: "openai", model: "gpt-4o-mini", inputTokens: 20, outputTokens: 3 });
      }
      await new Promise((r) => setTimeout(r, 1));
      maxInMemory = Math.max(maxInMemory, inMemory());
      if (lines.some((l) => l.startsWith("cannot write the spill journal"))) maxAfterJournalFailed = Math.max(maxAfterJournalFailed, inMemory());
    }
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    expect(writer.stats.failedAttempts).toBeGreaterThan(0);
    expect(writer.stats.dropped).toBeGreaterThan(0);
    // Once the journal has refused a write, memory (buffered and in a failing write) holds at
    // most maxMemoryRecords; before that, the bound plus what arrives during that journal write.
    expect(maxAfterJournalFailed).toBeGreaterThan(0);
    expect(maxAfterJournalFailed).toBeLessThanOrEqual(MEMORY);
    // (That journal write's duration depends on the machine: only a loose bound here, far below the 30,000 of no bound.)
    expect(maxInMemory).toBeLessThan(5 * MEMORY);
    // One line per kind (store failure, journal failure, drops) per 30 s, not one per attempt.
    expect(lines.length).toBeLessThanOrEqual(6);
    expect(lines.some((l) => /SQLITE_FULL|disk is full|ENOSPC/i.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith("dropped ") && l.includes("maxMemoryRecords"))).toBe(true);

    rmSync(filler);
    await monitor.flush({ timeoutMs: 60_000 });
    const stored = readUsageFile(path);
    expect(stored.duplicateIds).toEqual([]);
    expect(stored.ids.length + writer.stats.dropped).toBe(TOTAL);
    console.log(
      `[faults] disk full for ${TOTAL} records: max in memory ${maxInMemory} (bound ${MEMORY}), dropped ${writer.stats.dropped}, ` +
        `log lines ${lines.length}, heapUsed growth ${(heapGrowth / 1048576).toFixed(1)} MiB`,
    );
    await monitor.close();
  });
});

describe("the journal's size bound", () => {
  it("past maxJournalBytes the journal takes no more: memory holds maxMemoryRecords, the rest is dropped, counted and reported", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-jbound-"));
    const path = join(dir, "usage.db");
    const store = new SqliteUsageStore({ path, busyTimeoutMs: 0 });
    await store.append([]);
    const lock = new Database(path);
    lock.exec("BEGIN EXCLUSIVE");
    const lines: string[] = [];
    const monitor = createTokenMonitor({
      store,
      env: {},
      logger: { warn: (m) => void lines.push(m), error: (m) => void lines.push(m) },
      writer: { spillDir: join(dir, "spill"), batchSize: 100, flushIntervalMs: 5, retryDelayMs: 5, maxRetryDelayMs: 20, maxBufferedRecords: 100, maxMemoryRecords: 300, maxJournalBytes: 200_000 },
    });
    for (let n = 0; n < 3000; ) {
      for (let k = 0; k < 100; k++, n++) await monitor.trackUsage({ id: `j-${n}`, userId: "j", provider: "openai", model: "gpt-4o-mini", inputTokens: 1, outputTokens: 1 });
      await new Promise((r) => setTimeout(r, 2));
    }
    await monitor.flush({ timeoutMs: 300 }).catch(() => undefined);
    const spillBytes = existsSync(join(dir, "spill"))
      ? readdirSync(join(dir, "spill")).reduce((sum, f) => sum + statSync(join(dir, "spill", f)).size, 0)
      : 0;
    expect(spillBytes).toBeLessThanOrEqual(200_000);
    expect(monitor.writer.stats.dropped).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes("reached its bound of 200000 bytes"))).toBe(true);
    lock.exec("COMMIT");
    lock.close();
    await monitor.flush({ timeoutMs: 30_000 });
    const stored = readUsageFile(path);
    expect(stored.duplicateIds).toEqual([]);
    expect(stored.ids.length + monitor.writer.stats.dropped).toBe(3000);
    await monitor.close();
  });
});
