import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import type { AppendResult, UsageStore } from "../../src/stores/types.js";
import type { UsageRecord } from "../../src/record/types.js";
import { BufferedWriter } from "../../src/writer/index.js";
import { makeRecord } from "../contract/make-record.js";
import { startFixture } from "../faults/support/children.js";

const quiet = { warn: () => undefined, error: () => undefined };

/** A real SQLite store behind a switch that makes writes fail while "down". */
function flakyStore(): { store: UsageStore; sqlite: SqliteUsageStore; setDown(down: boolean): void; attempts: () => number } {
  const sqlite = new SqliteUsageStore({ path: ":memory:" });
  let down = false;
  let attempts = 0;
  const store = Object.create(sqlite) as UsageStore;
  store.append = async (records: UsageRecord[]): Promise<AppendResult> => {
    attempts++;
    if (down) throw new Error("store unreachable");
    return sqlite.append(records);
  };
  return { store, sqlite, setDown: (d) => (down = d), attempts: () => attempts };
}

async function countRows(sqlite: SqliteUsageStore): Promise<number> {
  const rows = await sqlite.aggregate({ filter: {}, groupBy: [] });
  return rows[0]?.requests ?? 0;
}

describe("BufferedWriter", () => {
  it("enqueue does no I/O; flush makes everything durable in batches", async () => {
    const { store, sqlite, attempts } = flakyStore();
    const writer = new BufferedWriter(store, { batchSize: 50, logger: quiet, spillDir: mkdtempSync(join(tmpdir(), "tt-w-")) });
    for (let i = 0; i < 120; i++) writer.enqueue(makeRecord({ userId: "w1" }));
    expect(await countRows(sqlite)).toBe(0); // nothing written synchronously
    await writer.flush();
    expect(await countRows(sqlite)).toBe(120);
    expect(attempts()).toBeGreaterThanOrEqual(3);
    expect(writer.stats).toMatchObject({ enqueued: 120, written: 120, duplicates: 0 });
  });

  it("keeps records while the store is down and writes each exactly once after it returns", async () => {
    const { store, sqlite, setDown } = flakyStore();
    const warnings: string[] = [];
    const writer = new BufferedWriter(store, {
      batchSize: 20,
      retryDelayMs: 5,
      maxRetryDelayMs: 20,
      logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
      spillDir: mkdtempSync(join(tmpdir(), "tt-w-")),
    });
    setDown(true);
    const records = Array.from({ length: 100 }, () => makeRecord({ userId: "w2" }));
    records.forEach((r) => writer.enqueue(r));
    // Still a StoreError; its own code says the flush ran out of time.
    await expect(writer.flush({ timeoutMs: 150 })).rejects.toMatchObject({ code: "ERR_FLUSH_TIMEOUT" });
    expect(warnings.some((w) => w.includes("store unreachable"))).toBe(true);
    expect(writer.pending).toBe(100);
    setDown(false);
    await writer.flush();
    expect(await countRows(sqlite)).toBe(100);
    // Replaying the same records (a crash after the write, before the ack) stores nothing twice.
    records.forEach((r) => writer.enqueue(r));
    await writer.flush();
    expect(await countRows(sqlite)).toBe(100);
    expect(writer.stats.duplicates).toBe(100);
  });

  it("spills past the memory bound to the journal and replays it on recovery", async () => {
    const { store, sqlite, setDown } = flakyStore();
    const spillDir = mkdtempSync(join(tmpdir(), "tt-spill-"));
    const writer = new BufferedWriter(store, { batchSize: 10, maxBufferedRecords: 30, retryDelayMs: 5, maxRetryDelayMs: 10, logger: quiet, spillDir });
    setDown(true);
    for (let i = 0; i < 200; i++) writer.enqueue(makeRecord({ userId: "w3" }));
    await expect(writer.flush({ timeoutMs: 200 })).rejects.toThrow(/not yet stored/);
    expect(writer.stats.spilled).toBeGreaterThanOrEqual(170);
    expect(readdirSync(spillDir).some((f) => f.startsWith("spill-"))).toBe(true);
    setDown(false);
    await writer.flush();
    expect(await countRows(sqlite)).toBe(200);
    expect(writer.stats.replayed).toBe(writer.stats.spilled);
    expect(readdirSync(spillDir).filter((f) => f.startsWith("spill-"))).toEqual([]);
  });

  it("a new process replays the journal a dead process left behind", async () => {
    const spillDir = mkdtempSync(join(tmpdir(), "tt-orphan-"));
    // A real process spills and exits: a writer of this process giving up would go on
    // retrying in the background, and could hold the file while the second one looks.
    const dead = startFixture("spill-and-exit.ts", [spillDir, "25"]);
    expect(await dead.exited).toEqual({ code: 0, signal: null });
    expect(dead.lines).toContain("spilled 25");
    expect(readdirSync(spillDir)).toHaveLength(1);

    const fresh = new SqliteUsageStore({ path: ":memory:" });
    const second = new BufferedWriter(fresh, { logger: quiet, spillDir });
    second.enqueue(makeRecord({ userId: "w4" }));
    await second.flush();
    expect(await countRows(fresh)).toBe(26);
    expect(readdirSync(spillDir)).toEqual([]);
  });

  it("refuses records after close", async () => {
    const writer = new BufferedWriter(new SqliteUsageStore({ path: ":memory:" }), { logger: quiet });
    await writer.close();
    expect(() => writer.enqueue(makeRecord())).toThrow(/closed/);
  });
});
