/**
 * installGracefulShutdown in-process, with `exit: false` (ending the process is
 * covered by test/faults/process-kill.test.ts): a real signal flushes and closes every
 * monitor, a store that cannot take the records makes it give up after the timeout and
 * say how many were not stored, and uninstalling leaves no listener behind.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { exitCodeOf, installGracefulShutdown, type ShutdownOutcome } from "../../src/lifecycle/index.js";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";

const quiet = { warn: () => undefined, error: () => undefined };

function fileMonitor(busyTimeoutMs = 1000) {
  const dir = mkdtempSync(join(tmpdir(), "tt-life-"));
  const path = join(dir, "usage.db");
  const monitor = createTokenMonitor({
    store: new SqliteUsageStore({ path, busyTimeoutMs }),
    // A long flush interval: only the shutdown's flush can write these records.
    writer: { flushIntervalMs: 60_000, retryDelayMs: 10, maxRetryDelayMs: 20, spillDir: join(dir, "spill") },
    logger: quiet,
  });
  const count = () => {
    // The store opens its file on first use: no file yet is no record yet.
    if (!existsSync(path)) return 0;
    const db = new Database(path, { readonly: true });
    try {
      return (db.prepare("SELECT COUNT(*) AS n FROM usage_records").get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  return { monitor, path, count };
}

const track = (m: ReturnType<typeof fileMonitor>["monitor"], n: number, prefix: string) =>
  Promise.all(Array.from({ length: n }, (_, i) => m.trackUsage({ id: `${prefix}-${i}`, provider: "openai", model: "gpt-4o", inputTokens: 10, outputTokens: 2 })));

function nextShutdown(options: Parameters<typeof installGracefulShutdown>[1] = {}, targets: Parameters<typeof installGracefulShutdown>[0]) {
  return new Promise<{ outcome: ShutdownOutcome; uninstall: () => void }>((resolve) => {
    const uninstall = installGracefulShutdown(targets, { exit: false, logger: quiet, ...options, onShutdown: (outcome) => resolve({ outcome, uninstall }) });
  });
}

describe("installGracefulShutdown", () => {
  it("on SIGTERM flushes and closes every monitor, then removes its listeners", async () => {
    const a = fileMonitor();
    const b = fileMonitor();
    await track(a.monitor, 120, "a");
    await track(b.monitor, 80, "b");
    expect(a.count() + b.count()).toBe(0);
    const before = process.listenerCount("SIGTERM");
    const done = nextShutdown({ signals: ["SIGTERM"] }, [a.monitor, b.monitor]);
    expect(process.listenerCount("SIGTERM")).toBe(before + 1);
    process.kill(process.pid, "SIGTERM");
    const { outcome } = await done;
    expect(outcome).toEqual({ signal: "SIGTERM", unstored: 0, errors: [] });
    expect([a.count(), b.count()]).toEqual([120, 80]);
    await expect(track(a.monitor, 1, "late")).rejects.toThrow(/closed/);
    expect(process.listenerCount("SIGTERM")).toBe(before);
  });

  it("gives up after timeoutMs when the store cannot take the records, and reports how many", async () => {
    const m = fileMonitor(0);
    await track(m.monitor, 50, "t");
    const lock = new Database(m.path);
    lock.exec("BEGIN EXCLUSIVE");
    const errors: string[] = [];
    try {
      const done = nextShutdown({ signals: ["SIGINT"], timeoutMs: 200, logger: { warn: () => undefined, error: (e) => errors.push(e) } }, m.monitor);
      const t0 = performance.now();
      process.kill(process.pid, "SIGINT");
      const { outcome } = await done;
      const took = performance.now() - t0;
      expect(outcome.unstored).toBe(50);
      expect(outcome.errors.map((e) => e.message).join()).toMatch(/not yet stored/);
      expect(errors.some((e) => e.includes("50 usage records were not stored"))).toBe(true);
      expect(took).toBeGreaterThanOrEqual(190);
      expect(took).toBeLessThan(2000);
    } finally {
      lock.exec("ROLLBACK");
      lock.close();
    }
  });

  it("uninstall before any signal removes the listeners", () => {
    const m = fileMonitor();
    const before = process.listenerCount("SIGINT") + process.listenerCount("SIGTERM");
    const uninstall = installGracefulShutdown(m.monitor, { exit: false });
    expect(process.listenerCount("SIGINT") + process.listenerCount("SIGTERM")).toBe(before + 2);
    uninstall();
    expect(process.listenerCount("SIGINT") + process.listenerCount("SIGTERM")).toBe(before);
  });

  it("uses the shell's exit codes", () => {
    expect(exitCodeOf("SIGTERM")).toBe(143);
    expect(exitCodeOf("SIGINT")).toBe(130);
    expect(exitCodeOf("SIGHUP")).toBe(129);
  });
});
