/**
 * A store that cannot be used as it is, with real broken files: a file that is not
 * SQLite, a database on a read-only file system, a database written by a newer
 * version (user_version 99). In-process and on the worker alike, the agent's calls
 * succeed, the failure is reported once with the real error and the file, records are
 * kept (memory, then the spill journal), the store keeps being retried at a slow pace,
 * and a bounded flush says how many records were journaled and where.
 */
import { existsSync, mkdtempSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import { attachTokenTracking, createTokenMonitor, getTokenMonitor, setTokenMonitor } from "../../src/index.js";
import { FlushTimeoutError, StoreUnusableError } from "../../src/errors.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { SCHEMA_VERSION } from "../../src/stores/sqlite/sqlite-connection.js";
import { captureLog as capture, journaled } from "./support/log-capture.js";
import { readUsageFile } from "./support/sqlite-checks.js";
import { isMounted, mountTmpfs } from "./support/tmpfs.js";

const MODES = [
  ["in-process", false],
  ["worker", true],
] as const;

const track = (monitor: ReturnType<typeof createTokenMonitor>, n: number, prefix: string) =>
  Promise.all(Array.from({ length: n }, (_, i) => monitor.trackUsage({ id: `${prefix}-${i}`, userId: "u", provider: "openai", model: "gpt-4o-mini", inputTokens: 10, outputTokens: 2 })));

describe.each(MODES)("a file that is not SQLite (%s)", (mode, worker) => {
  const saved = { db: process.env.TOKEN_USAGE_DB, worker: process.env.TOKEN_USAGE_SQLITE_WORKER };
  afterEach(() => {
    process.env.TOKEN_USAGE_DB = saved.db;
    process.env.TOKEN_USAGE_SQLITE_WORKER = saved.worker;
    if (saved.db === undefined) delete process.env.TOKEN_USAGE_DB;
    if (saved.worker === undefined) delete process.env.TOKEN_USAGE_SQLITE_WORKER;
    setTokenMonitor(undefined);
  });

  it("attachTokenTracking never fails the agent; one clear report; flush journals and says where; stored once fixed", async () => {
    const dir = mkdtempSync(join(tmpdir(), `tt-notadb-${mode}-`));
    const path = join(dir, "usage.db");
    writeFileSync(path, "this is a text file, not a database\n".repeat(200));
    process.env.TOKEN_USAGE_DB = path;
    process.env.TOKEN_USAGE_SQLITE_WORKER = String(worker);
    const log = capture();
    // The process-wide monitor, as the one-line integration uses it; only its logger is captured.
    setTokenMonitor(undefined);
    const original = { warn: console.warn, error: console.error };
    console.warn = (m: string) => log.logger.warn(String(m));
    console.error = (m: string) => log.logger.error(String(m));
    try {
      const model = new ScriptedChatModel();
      for (let i = 0; i < 5; i++) {
        const answer = await model.invoke("hello", attachTokenTracking({ configurable: { user_id: "alice", thread_id: "t1" } }));
        expect(typeof answer.content).toBe("string");
      }
      const monitor = getTokenMonitor();
      const failure = await monitor.flush({ timeoutMs: 20_000 }).then(() => null, (e: unknown) => e);
      expect(failure).toBeInstanceOf(FlushTimeoutError);
      const f = failure as FlushTimeoutError;
      expect(f.message).toMatch(/^5 token usage records not yet stored/);
      expect(f.message).toContain("not a database");
      expect(f).toMatchObject({ spilled: 5, atRisk: 0, journal: join(dir, "spill") });
      expect(journaled(join(dir, "spill"))).toHaveLength(5);

      // A second flush and more calls: still one report, naming the file and the real error.
      await model.invoke("again", attachTokenTracking({ configurable: { user_id: "alice" } }));
      await monitor.flush({ timeoutMs: 20_000 }).catch(() => undefined);
      const reports = log.unusable();
      expect(reports).toHaveLength(1);
      expect(reports[0]).toContain(path);
      expect(reports[0]).toMatch(/file is not a database \(SQLITE_NOTADB\)/);
      expect(reports[0]).not.toMatch(/undefined/);

      // The operator moves the bad file away: the next attempt opens a new database and the journal is replayed.
      unlinkSync(path);
      await monitor.flush({ timeoutMs: 20_000 });
      const stored = readUsageFile(path);
      expect(stored.ids.length).toBe(6);
      expect(stored.duplicateIds).toEqual([]);
      expect(journaled(join(dir, "spill"))).toEqual([]);
      expect(log.lines.some((l) => l.message.includes("writes succeed again"))).toBe(true);
      await monitor.close();
    } finally {
      console.warn = original.warn;
      console.error = original.error;
    }
  });
});

describe.each(MODES)("a database from a newer version, user_version 99 (%s)", (mode, worker) => {
  it("is never written to; reported once; retried at the slow pace until the file is replaced", async () => {
    const dir = mkdtempSync(join(tmpdir(), `tt-newer-${mode}-`));
    const path = join(dir, "usage.db");
    // A real database with this package's tables, then marked as written by a future schema.
    const seed = new SqliteUsageStore({ path });
    await seed.getSetting("x", "y");
    await seed.close();
    const raw = new Database(path);
    raw.pragma("user_version = 99");
    raw.close();

    const log = capture();
    const monitor = createTokenMonitor({
      sqlitePath: path,
      sqliteWorker: worker,
      env: {},
      logger: log.logger,
      writer: { spillDir: join(dir, "spill"), unusableRetryDelayMs: 50, flushIntervalMs: 5 },
    });
    await track(monitor, 20, "n");
    const failure = await monitor.flush({ timeoutMs: 20_000 }).then(() => null, (e: unknown) => e);
    expect(failure).toBeInstanceOf(FlushTimeoutError);
    expect((failure as Error).message).toMatch(/schema version 99/);
    // Retried at the slow pace (50 ms here) without another report.
    const attempts = monitor.writer.stats.failedAttempts;
    await new Promise((r) => setTimeout(r, 400));
    expect(monitor.writer.stats.failedAttempts).toBeGreaterThan(attempts);
    const reports = log.unusable();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain(path);
    expect(reports[0]).toContain(`has schema version 99, newer than the ${SCHEMA_VERSION} this version`);
    expect(reports[0]).toMatch(/upgrade the package/);
    const untouched = new Database(path, { readonly: true });
    expect(untouched.pragma("user_version", { simple: true })).toBe(99);
    expect((untouched.prepare("SELECT COUNT(*) AS n FROM usage_records").get() as { n: number }).n).toBe(0);
    untouched.close();

    // Replaced by the operator: the slow retry finds it and replays the journal, no flush needed.
    unlinkSync(path);
    // (The file may exist a moment before its tables do: the writer is creating it.)
    const storedNow = () => {
      try {
        return existsSync(path) ? readUsageFile(path).ids.length : 0;
      } catch {
        return 0;
      }
    };
    for (let i = 0; i < 100 && storedNow() !== 20; i++) await new Promise((r) => setTimeout(r, 50));
    expect(readUsageFile(path).ids.length).toBe(20);
    await monitor.close();
  });
});

// A read-only file system: root ignores file modes, so only a read-only mount is really read-only.
const fs = mountTmpfs("8m");
if (!isMounted(fs)) console.warn(`[faults] read-only store tests skipped: ${fs.reason}`);
afterAll(() => {
  if (isMounted(fs)) fs.unmount();
});

describe.skipIf(!isMounted(fs)).each(MODES)("a database on a read-only file system (%s)", (mode, worker) => {
  it("model calls are tracked into the journal elsewhere, with one report naming the file and SQLITE_READONLY/CANTOPEN", async () => {
    if (!isMounted(fs)) return;
    const path = join(fs.dir, `${mode}.db`);
    const seed = new SqliteUsageStore({ path });
    await seed.append([]); // creates the schema
    await seed.close();
    fs.readOnly();
    try {
      const spill = mkdtempSync(join(tmpdir(), `tt-ro-spill-${mode}-`));
      const log = capture();
      const monitor = createTokenMonitor({ sqlitePath: path, sqliteWorker: worker, env: {}, logger: log.logger, writer: { spillDir: spill } });
      const model = new ScriptedChatModel();
      for (let i = 0; i < 5; i++) await model.invoke("hello", attachTokenTracking({ configurable: { user_id: "ro" } }, { monitor }));
      const failure = await monitor.flush({ timeoutMs: 20_000 }).then(() => null, (e: unknown) => e);
      expect(failure).toMatchObject({ code: "ERR_FLUSH_TIMEOUT", spilled: 5, journal: spill });
      expect(journaled(spill)).toHaveLength(5);
      const reports = log.unusable();
      expect(reports).toHaveLength(1);
      expect(reports[0]).toContain(path);
      expect(reports[0]).toMatch(/SQLITE_(READONLY|CANTOPEN)\w*/);
      await expect(monitor.close({ timeoutMs: 2000 })).rejects.toBeInstanceOf(FlushTimeoutError);
    } finally {
      fs.writable();
    }
  });

  it("a new database in a read-only folder: the same, and stored once the folder is writable again", async () => {
    if (!isMounted(fs)) return;
    const path = join(fs.dir, "new", `${mode}.db`);
    const spill = mkdtempSync(join(tmpdir(), `tt-ro-new-${mode}-`));
    const log = capture();
    const monitor = createTokenMonitor({ sqlitePath: path, sqliteWorker: worker, env: {}, logger: log.logger, writer: { spillDir: spill } });
    fs.readOnly();
    try {
      await track(monitor, 7, `ro-new-${mode}`);
      const failure = await monitor.flush({ timeoutMs: 20_000 }).then(() => null, (e: unknown) => e);
      expect(failure).toMatchObject({ code: "ERR_FLUSH_TIMEOUT", spilled: 7, journal: spill });
      const reports = log.unusable();
      expect(reports).toHaveLength(1);
      expect(reports[0]).toContain(path);
      expect(reports[0]).toMatch(/EROFS|SQLITE_(READONLY|CANTOPEN)/);
    } finally {
      fs.writable();
    }
    await monitor.flush({ timeoutMs: 20_000 });
    expect(readUsageFile(path).ids.length).toBe(7);
    await monitor.close();
  });
});

describe("the error crossing from the worker", () => {
  it("is a StoreUnusableError naming the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-revive-"));
    const path = join(dir, "usage.db");
    writeFileSync(path, "not sqlite".repeat(100));
    const monitor = createTokenMonitor({ sqlitePath: path, sqliteWorker: true, env: {}, logger: capture().logger });
    const error = await monitor.store.append([]).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnusableError);
    expect(error).toMatchObject({ code: "ERR_STORE_UNUSABLE", location: path });
    await monitor.close();
  });
});

describe.each(MODES)("bounded shutdown when neither the store nor the journal can be written (%s)", (mode, worker) => {
  it("flush() and close() with their default timeouts return, saying how many records are at risk", async () => {
    const dir = mkdtempSync(join(tmpdir(), `tt-atrisk-${mode}-`));
    const path = join(dir, "usage.db");
    writeFileSync(path, "not sqlite at all\n".repeat(100));
    // The journal folder would have to live under a regular file: every append fails (ENOTDIR).
    const blocker = join(dir, "not-a-folder");
    writeFileSync(blocker, "");
    const log = capture();
    const monitor = createTokenMonitor({ sqlitePath: path, sqliteWorker: worker, env: {}, logger: log.logger, writer: { spillDir: join(blocker, "spill") } });
    await track(monitor, 12, "risk");
    const flushed = await monitor.flush().then(() => null, (e: unknown) => e);
    expect(flushed).toBeInstanceOf(FlushTimeoutError);
    expect(flushed).toMatchObject({ unstored: 12, spilled: 0, atRisk: 12 });
    expect((flushed as Error).message).toMatch(/12 could not be journaled either and are at risk/);
    expect(log.lines.some((l) => l.level === "error" && l.message.includes("cannot save 12 records to the spill journal") && l.message.includes("ENOTDIR"))).toBe(true);
    const closed = await monitor.close().then(() => null, (e: unknown) => e);
    expect(closed).toMatchObject({ code: "ERR_FLUSH_TIMEOUT", atRisk: 12 });
  });
});

describe.each(MODES)("budget enforcement on an unusable store (%s)", (mode, worker) => {
  it("the guard cannot read its limits or past usage: calls go ahead (fail open), reported once", async () => {
    const dir = mkdtempSync(join(tmpdir(), `tt-budget-${mode}-`));
    const path = join(dir, "usage.db");
    writeFileSync(path, "still not sqlite\n".repeat(100));
    const log = capture();
    const monitor = createTokenMonitor({
      sqlitePath: path,
      sqliteWorker: worker,
      env: { BUDGET_ENFORCEMENT: "block", DAILY_TOKEN_BUDGET: "100000" },
      logger: log.logger,
      writer: { spillDir: join(dir, "spill") },
    });
    const model = new ScriptedChatModel();
    for (let i = 0; i < 5; i++) {
      const answer = await model.invoke("hello", attachTokenTracking({ configurable: { user_id: "b" } }, { monitor }));
      expect(typeof answer.content).toBe("string");
    }
    const failOpen = log.lines.filter((l) => l.message.includes("budget check could not read the store"));
    expect(failOpen).toHaveLength(1);
    expect(failOpen[0].message).toContain("SQLITE_NOTADB");
    await monitor.close().catch(() => undefined);
  });
});
