/** Runs the real `token-usage` bin in a subprocess against a temporary SQLite file. */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export const MAIN = join(process.cwd(), "src/cli/main.ts");
/** tsx's loader by absolute path, so a CLI run from another folder still finds it. */
export const TSX = pathToFileURL(createRequire(join(process.cwd(), "package.json")).resolve("tsx")).href;
/** The bin as package.json names it, once built. */
const BUILT_BIN = join(process.cwd(), "dist/cli.js");

/**
 * Node's arguments that run the CLI: the built bin, what users run, when the test command
 * has just built it (`TOKEN_USAGE_TEST_PREBUILT=1`); the sources through tsx otherwise
 * (a test file run alone, where `dist/` may be stale or missing).
 */
export const CLI_ARGV: readonly string[] =
  process.env.TOKEN_USAGE_TEST_PREBUILT === "1" && existsSync(BUILT_BIN) ? [BUILT_BIN] : ["--import", TSX, MAIN];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function tempDir(prefix = "token-usage-cli-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cliEnv(db: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TOKEN_USAGE_DB: db, ...extra };
  delete env.TOKEN_USAGE_ADMIN_KEY;
  delete env.TOKEN_USAGE_STORE;
  return env;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, options: { cwd?: string } = {}): Promise<CliResult> {
  return runNode([...CLI_ARGV, ...args], env, options);
}

/** Runs `node <argv>` (the sources through tsx, or a built bin) and collects its output. */
export function runNode(argv: string[], env: NodeJS.ProcessEnv, options: { cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { env, timeout: 30_000, cwd: options.cwd }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr: stripNodeNoise(stderr) });
    });
  });
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [...CLI_ARGV, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
}

/** npm's own configuration warnings, when node is run from an npm script, are not the CLI's output. */
function stripNodeNoise(stderr: string): string {
  return stderr
    .split("\n")
    .filter((line) => !line.startsWith("npm warn"))
    .join("\n");
}

/** stderr without the `database: ...` line (and the new-file warning) every store command starts with. */
export function problemLines(stderr: string): string[] {
  return stderr
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("database: ") && !/^warning: .* did not exist: /.test(line));
}
