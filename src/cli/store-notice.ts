/**
 * Which store a command reads, said on stderr before it opens it (stdout stays clean
 * for `--json`). A SQLite file that does not exist yet is created empty by the first
 * read, so a command run from the wrong folder would quietly report "No usage": the
 * warning names the file and how to point at another one.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { configFromEnv } from "../config.js";

export interface StoreTarget {
  kind: "sqlite" | "cosmos";
  /** The SQLite file, absolute; undefined for Cosmos. */
  path?: string;
  /** Whether the SQLite file existed before this command opened it. */
  existed: boolean;
  /** One line for people, e.g. `database: /srv/app/.token-usage/usage.db`. */
  line: string;
}

export function storeTarget(db: string | undefined, env: NodeJS.ProcessEnv = process.env): StoreTarget {
  if (db === undefined && configFromEnv(env).store === "cosmos") {
    const where = [env.COSMOS_ENDPOINT ?? "(COSMOS_ENDPOINT not set)", env.COSMOS_DATABASE ?? "token_usage_db", env.COSMOS_CONTAINER ?? "token_usage"].join(" / ");
    return { kind: "cosmos", existed: true, line: `database: Cosmos DB ${where}` };
  }
  const raw = db ?? env.TOKEN_USAGE_DB;
  if (raw === ":memory:") return { kind: "sqlite", path: raw, existed: false, line: "database: SQLite in memory (nothing is kept)" };
  const path = db !== undefined ? resolve(db) : configFromEnv(env).sqlitePath;
  return { kind: "sqlite", path, existed: existsSync(path), line: `database: ${path}` };
}

export function announceStore(target: StoreTarget, write: (text: string) => void = (t) => process.stderr.write(t)): void {
  write(`${target.line}\n`);
  if (target.kind === "sqlite" && target.path !== ":memory:" && !target.existed) {
    write(`warning: ${target.path} did not exist: this command starts a new, empty database there (use --db <file> or TOKEN_USAGE_DB to read another)\n`);
  }
}
