import Database from "better-sqlite3";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SqliteUsageStore, SqliteWorkerStore } from "../../src/stores/sqlite/index.js";
import { aggregateInMemory } from "../../src/stores/types.js";
import { describeUsageStoreContract } from "../contract/usage-store-contract.js";
import { makeRecord, seededRandom } from "../contract/make-record.js";

const dir = mkdtempSync(join(tmpdir(), "tt-sqlite-contract-"));
let n = 0;
const fileCaps = { capabilities: { rollups: true, multiProcess: true, ttl: false } };

describeUsageStoreContract("sqlite (file, WAL)", async () => new SqliteUsageStore({ path: join(dir, `store-${n++}.db`) }), fileCaps);

describeUsageStoreContract("sqlite (:memory:)", async () => new SqliteUsageStore({ path: ":memory:" }), {
  capabilities: { rollups: true, multiProcess: false, ttl: false },
});

// Per-user rollups are kept only for users past the threshold: with 1, every user has
// them from their first record; with 3, users cross it in the middle of the suite.
describeUsageStoreContract(
  "sqlite (per-user rollups for every user)",
  async () => new SqliteUsageStore({ path: join(dir, `store-${n++}.db`), rollupThreshold: 1 }),
  fileCaps,
);
describeUsageStoreContract(
  "sqlite (users crossing the rollup threshold)",
  async () => new SqliteUsageStore({ path: join(dir, `store-${n++}.db`), rollupThreshold: 3 }),
  fileCaps,
);

describe("sqlite per-user rollups", () => {
  it("a user crossing the threshold mid-batch is backfilled exactly, and rebuilds agree", async () => {
    const store = new SqliteUsageStore({ path: ":memory:", rollupThreshold: 50 });
    const rand = seededRandom(3);
    const hour = Date.UTC(2030, 0, 1);
    const records = Array.from({ length: 400 }, (_, i) =>
      makeRecord({
        id: `t-${i}`,
        userId: i % 4 === 0 ? "light" : "heavy",
        model: rand() < 0.5 ? "gpt-4o" : "gpt-4o-mini",
        timestamp: new Date(hour + Math.floor(rand() * 72) * 3_600_000 + i).toISOString(),
        inputTokens: 1 + Math.floor(rand() * 900),
        outputTokens: Math.floor(rand() * 90),
      }),
    );
    for (let i = 0; i < records.length; i += 37) await store.append(records.slice(i, i + 37));
    const db = store.database;
    expect(db.prepare("SELECT user_id, heavy FROM usage_user_counts ORDER BY user_id").all()).toEqual([
      { user_id: "heavy", heavy: 1 },
      { user_id: "light", heavy: 1 },
    ]);
    const range = { start: new Date(hour).toISOString(), end: new Date(hour + 72 * 3_600_000).toISOString() };
    for (const userId of ["heavy", "light"]) {
      const q = { filter: { userId, ...range }, groupBy: ["model", "day"] as const };
      const expected = aggregateInMemory(records, { ...q, groupBy: [...q.groupBy] });
      const sort = (rows: { key: Record<string, string | null> }[]) => [...rows].sort((a, b) => JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)));
      expect(sort(await store.aggregate({ ...q, groupBy: [...q.groupBy] }))).toEqual(sort(expected));
      await store.rebuildRollups();
      expect(sort(await store.aggregate({ ...q, groupBy: [...q.groupBy] }))).toEqual(sort(expected));
    }
    await store.close();
  });
});

describe("sqlite replays and crashes", () => {
  it("stores exactly 1,000 records and unchanged totals after replays and a crash mid-batch", async () => {
    const path = join(dir, `idem-${n++}.db`);
    const records = Array.from({ length: 1000 }, (_, i) =>
      makeRecord({ id: `idem-${i}`, userId: `u${i % 7}`, timestamp: new Date(Date.UTC(2030, 0, 1) + i * 60_000).toISOString(), inputTokens: 100 + i }),
    );
    // A process committed 400 records, then died in the middle of a 600-record batch: the
    // batch ran inside a transaction that never committed (rolled back, as a crash would).
    const crashed = new SqliteUsageStore({ path });
    await crashed.append(records.slice(0, 400));
    const db = crashed.database;
    db.exec("BEGIN IMMEDIATE");
    expect(await crashed.append(records.slice(400))).toEqual({ inserted: 600, duplicates: 0 });
    db.exec("ROLLBACK");
    expect((await crashed.aggregate({ filter: {}, groupBy: [] }))[0].requests).toBe(400);
    await crashed.close();

    const store = new SqliteUsageStore({ path });
    expect(await store.append(records)).toEqual({ inserted: 600, duplicates: 400 });
    expect(await store.append(records)).toEqual({ inserted: 0, duplicates: 1000 });
    const totals = await store.aggregate({ filter: {}, groupBy: ["user"] });
    const expected = aggregateInMemory(records, { filter: {}, groupBy: ["user"] });
    const sort = (rows: typeof totals) => [...rows].sort((a, b) => String(a.key.user).localeCompare(String(b.key.user)));
    expect(sort(totals)).toEqual(sort(expected));
    expect(totals.reduce((s, r) => s + r.requests, 0)).toBe(1000);
    await store.close();
  });
});

// The same contract through a worker thread: identical answers, errors revived with their codes.
describeUsageStoreContract(
  "sqlite on a worker thread",
  async () => new SqliteWorkerStore({ path: join(dir, `store-${n++}.db`) }),
  fileCaps,
);

describe("sqlite on a worker thread", () => {
  it("keeps the event loop free while it writes a large batch", async () => {
    const store = new SqliteWorkerStore({ path: join(dir, `loop-${n++}.db`) });
    const records = Array.from({ length: 30_000 }, (_, i) =>
      makeRecord({ id: `loop-${i}`, userId: `u${i % 997}`, threadId: `t${i % 4999}`, timestamp: new Date(Date.UTC(2030, 0, 1) + i * 1000).toISOString() }),
    );
    // A timer can only fire between main-thread tasks: if it fires while the append is in
    // flight, the transaction did not hold this thread.
    let ticks = 0;
    let done = false;
    const tick = () => {
      if (done) return;
      ticks++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const result = await store.append(records);
    done = true;
    expect(result).toEqual({ inserted: 30_000, duplicates: 0 });
    expect(ticks).toBeGreaterThan(10);
    await store.close();
    await expect(store.append(records.slice(0, 1))).rejects.toMatchObject({ code: "ERR_CLOSED" });
  });
});

describe("sqlite page size", () => {
  it("is 4 KiB for a new file, and a file made with 16 KiB pages keeps them and works", async () => {
    const fresh = new SqliteUsageStore({ path: join(dir, `store-${n++}.db`) });
    expect(fresh.database.pragma("page_size", { simple: true })).toBe(4096);
    await fresh.close();

    // A database as earlier versions created it: 16 KiB pages, WAL, schema in place.
    const path = join(dir, `store-${n++}.db`);
    const old = new Database(path);
    old.pragma("page_size = 16384");
    old.pragma("journal_mode = WAL");
    old.exec("CREATE TABLE earlier (x)");
    old.close();
    const store = new SqliteUsageStore({ path });
    const records = Array.from({ length: 30 }, (_, i) => makeRecord({ id: `p-${i}`, userId: `u-${i % 3}` }));
    expect(await store.append(records)).toEqual({ inserted: 30, duplicates: 0 });
    expect(store.database.pragma("page_size", { simple: true })).toBe(16384);
    const [row] = await store.aggregate({ filter: { userId: "u-1" }, groupBy: [] });
    expect(row.requests).toBe(10);
    await store.close();
  });
});
