/**
 * The database file deleted or replaced under a running process. Before, the store kept
 * writing into the deleted inode: every later record went nowhere, with no word. Now the
 * store compares what the path names (device and inode) with the file it opened, reopens
 * the path and says so; the records written after the change are in the file at the path.
 */
import { existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { readUsageFile } from "./support/sqlite-checks.js";

const MODES = [
  ["in-process", false],
  ["worker", true],
] as const;

function setup(worker: boolean, name: string) {
  const dir = mkdtempSync(join(tmpdir(), `tt-replaced-${name}-`));
  const path = join(dir, "usage.db");
  const warnings: string[] = [];
  const monitor = createTokenMonitor({
    sqlitePath: path,
    sqliteWorker: worker,
    env: {},
    logger: { warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) },
    writer: { spillDir: join(dir, "spill"), flushIntervalMs: 5 },
  });
  const track = (from: number, n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        monitor.trackUsage({ id: `r-${from + i}`, userId: "u", provider: "openai", model: "gpt-4o-mini", inputTokens: 10, outputTokens: 1 }),
      ),
    );
  return { dir, path, monitor, warnings, track };
}

const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `r-${from + i}`).sort();

describe.each(MODES)("the database file changes under a running process (%s)", (mode, worker) => {
  it("deleted (rm usage.db): a new database is created at the path, the later records are in it, and it is reported", async () => {
    const s = setup(worker, `del-${mode}`);
    await s.track(0, 300);
    await s.monitor.flush();
    expect(readUsageFile(s.path).ids.length).toBe(300);

    rmSync(s.path); // the main file only, as `rm usage.db` does; its -wal and -shm stay
    await s.track(300, 3000);
    await s.monitor.flush();
    expect(existsSync(s.path)).toBe(true);
    const after = readUsageFile(s.path);
    expect(after.ids.sort()).toEqual(ids(300, 3000));
    expect(after.duplicateIds).toEqual([]);
    expect(s.warnings.filter((w) => w.includes("was deleted while in use"))).toHaveLength(1);
    expect(s.warnings.join("\n")).toContain(s.path);

    // And it goes on working in the new file.
    await s.track(3300, 10);
    await s.monitor.flush();
    expect(readUsageFile(s.path).ids.length).toBe(3010);
    await s.monitor.close();
  });

  it("deleted with its -wal and -shm (rm usage.db*): the same", async () => {
    const s = setup(worker, `delall-${mode}`);
    await s.track(0, 100);
    await s.monitor.flush();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(s.path + suffix, { force: true });
    await s.track(100, 500);
    await s.monitor.flush();
    expect(readUsageFile(s.path).ids.sort()).toEqual(ids(100, 500));
    expect(s.warnings.some((w) => w.includes("was deleted while in use"))).toBe(true);
    await s.monitor.close();
  });

  it("replaced by another database (mv other.db usage.db): the later records go to the file now at the path", async () => {
    const s = setup(worker, `mv-${mode}`);
    await s.track(0, 200);
    await s.monitor.flush();

    const other = join(s.dir, "other.db");
    const seed = createTokenMonitor({ store: new SqliteUsageStore({ path: other }), env: {}, writer: { spillDir: join(s.dir, "spill-o") } });
    await Promise.all(Array.from({ length: 5 }, (_, i) => seed.trackUsage({ id: `o-${i}`, userId: "o", provider: "openai", model: "gpt-4o", inputTokens: 1, outputTokens: 1 })));
    await seed.close();
    renameSync(other, s.path);

    await s.track(200, 1000);
    await s.monitor.flush();
    // The replacement keeps its own records and gains the new ones; none of the old file's
    // (its leftover WAL must not be applied to another database), and it is intact.
    expect(readUsageFile(s.path).ids.sort()).toEqual([...ids(200, 1000), ...["o-0", "o-1", "o-2", "o-3", "o-4"]].sort());
    const check = new Database(s.path, { readonly: true });
    expect(check.pragma("integrity_check", { simple: true })).toBe("ok");
    check.close();
    expect(s.warnings.filter((w) => w.includes("was replaced by another file"))).toHaveLength(1);
    await s.monitor.close();
  });
});
