/**
 * Packing the project and installing the tarball into a fresh consumer project, the way
 * a user gets the package. The install is offline-first from the npm cache that
 * `npm ci` filled (`--prefer-offline`: package metadata not yet cached is fetched once).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export const ROOT = process.cwd();
const require = createRequire(join(ROOT, "package.json"));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(file: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeout ?? 120_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a command and throws with its output when it fails. */
export async function must(file: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): Promise<Run> {
  const result = await run(file, args, opts);
  if (result.code !== 0) throw new Error(`${file} ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}

/**
 * `npm pack` of the project into `dir`. `npm test` builds first and sets
 * TOKEN_USAGE_TEST_PREBUILT=1, so packing skips the `prepack` build; run alone, the
 * test packs exactly as `npm publish` would (building first).
 */
export async function packProject(dir: string): Promise<string> {
  const args = ["pack", "--pack-destination", dir, "--json"];
  if (process.env.TOKEN_USAGE_TEST_PREBUILT === "1") args.push("--ignore-scripts");
  const { stdout } = await must("npm", args, { cwd: ROOT, timeout: 180_000 });
  const [info] = JSON.parse(stdout.slice(stdout.indexOf("["))) as Array<{ filename: string }>;
  return join(dir, info.filename);
}

/**
 * A fresh project with the tarball installed, and with `typescript`, TypeScript and Node's
 * types for the strict-consumer check (the versions this project uses). Install scripts are skipped:
 * better-sqlite3 would compile for a minute; its addon is copied from the build this
 * suite already runs on (the same better-sqlite3 version, the same Node ABI).
 */
export async function installConsumer(tarball: string, options: { typescript?: boolean } = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "token-usage-consumer-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true }, null, 2));
  const ts = require("typescript/package.json").version as string;
  const typesNode = require("@types/node/package.json").version as string;
  // better-sqlite3 at the version whose addon is copied below (within the package's range).
  const sqlite = require("better-sqlite3/package.json").version as string;
  const extra = [`better-sqlite3@${sqlite}`, ...(options.typescript ? [`typescript@${ts}`, `@types/node@${typesNode}`] : [])];
  await must(
    "npm",
    ["install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error", tarball, ...extra],
    { cwd: dir, timeout: 300_000 },
  );
  const target = join(dir, "node_modules/better-sqlite3/build/Release");
  mkdirSync(target, { recursive: true });
  copyFileSync(sqliteBinding(), join(target, "better_sqlite3.node"));
  return dir;
}

/** The better-sqlite3 addon built for the Node running this test (see scripts/node24.sh for Node 24). */
export function sqliteBinding(): string {
  const fromEnv = process.env.TOKEN_USAGE_TEST_SQLITE_BINDING;
  if (fromEnv) return fromEnv;
  const file = join(dirname(require.resolve("better-sqlite3/package.json")), "build/Release/better_sqlite3.node");
  if (!existsSync(file)) throw new Error(`better-sqlite3 is not built (${file} is missing): run npm ci`);
  return file;
}

export function installedPackages(dir: string): string[] {
  const top = join(dir, "node_modules");
  return readdirSync(top).flatMap((name) => (name.startsWith("@") ? readdirSync(join(top, name)).map((n) => `${name}/${n}`) : [name]));
}

/** Starts the installed bin's `serve` and resolves with its URL once it listens. */
export function startServe(dir: string, env: NodeJS.ProcessEnv): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(join(dir, "node_modules/.bin/token-usage"), ["serve", "--port", "0"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}${err}`)), 30_000);
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${out}${err}`)));
    child.stdout!.on("data", (d) => {
      out += d;
      const match = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1], child, stderr: () => err });
      }
    });
  });
}
