/**
 * The SQLite worker starts clean whatever flags the parent was started with. A worker
 * inherits the parent's execArgv by default, and flags about the parent's own entry
 * point break it: under `node --input-type=module -e` every module load in the worker
 * failed (ERR_INPUT_TYPE_NOT_ALLOWED) and no write ever succeeded.
 *
 * The package is built the way it ships (an ESM bundle with the worker as its own entry
 * beside it) and loaded by real `node -e` processes with those flags.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readUsageFile } from "./support/sqlite-checks.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let out: string;

beforeAll(async () => {
  // Inside the project, so the bundle's external packages resolve from its node_modules.
  mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
  out = mkdtempSync(join(ROOT, "test-artifacts", "exec-argv-"));
  await build({
    entryPoints: { index: join(ROOT, "src/index.ts"), "sqlite-worker": join(ROOT, "src/stores/sqlite/sqlite-worker.ts") },
    outdir: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outExtension: { ".js": ".js" },
    logLevel: "silent",
  });
}, 60_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

function run(flags: string[], code: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...flags, code], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 40_000);
    child.on("exit", (exit) => {
      clearTimeout(timer);
      resolve({ code: exit, stdout, stderr });
    });
  });
}

/** The script each parent runs: track 20 records through the worker, flush, report. */
function script(db: string, esm: boolean): string {
  const url = pathToFileURL(join(out, "index.js")).href;
  const body = `
    const monitor = createTokenMonitor({ sqlitePath: ${JSON.stringify(db)}, sqliteWorker: true, env: {} });
    for (let i = 0; i < 20; i++) await monitor.trackUsage({ id: "e-" + i, userId: "u", provider: "openai", model: "gpt-4o-mini", inputTokens: 5, outputTokens: 1 });
    try { await monitor.flush({ timeoutMs: 15000 }); console.log("stored"); } catch (e) { console.log("not stored: " + e.message); }
    await monitor.close({ timeoutMs: 2000 }).catch(() => undefined);`;
  return esm
    ? `import { createTokenMonitor } from ${JSON.stringify(url)};\n${body}`
    : `import(${JSON.stringify(url)}).then(async ({ createTokenMonitor }) => {${body}});`;
}

const PARENTS: Array<[string, string[], boolean]> = [
  ["node --input-type=module -e", ["--input-type=module", "-e"], true],
  ["node -e (CommonJS eval)", ["-e"], false],
  ["node --import tsx --input-type=module -e (a loader)", ["--import", "tsx", "--input-type=module", "-e"], true],
  ["node --no-warnings --enable-source-maps --input-type=module --eval", ["--no-warnings", "--enable-source-maps", "--input-type=module", "--eval"], true],
];

describe("the SQLite worker from any parent execArgv", () => {
  it.each(PARENTS)("%s: every write succeeds", async (_name, flags, esm) => {
    const db = join(mkdtempSync(join(tmpdir(), "tt-execargv-")), "usage.db");
    const result = await run(flags, script(db, esm));
    expect(result.stdout.trim(), result.stderr).toBe("stored");
    expect(result.code).toBe(0);
    const stored = readUsageFile(db);
    expect(stored.ids.length).toBe(20);
    expect(stored.duplicateIds).toEqual([]);
  });
});
