/**
 * Configuration from the environment, shared by the library, the CLI and the server.
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | TOKEN_USAGE_STORE | `sqlite` or `cosmos` | `sqlite` |
 * | TOKEN_USAGE_DB | SQLite file | `.token-usage/usage.db` in the working directory |
 * | TOKEN_USAGE_SQLITE_WORKER | `false` runs SQLite in-process instead of on a worker thread | `true` for a file, `false` for `:memory:` |
 * | TOKEN_USAGE_PRICING_FILE | JSON price overrides | none |
 * | USAGE_TRACKING_ENABLED | `false` turns recording off (handlers become no-ops) | `true` |
 * | COSMOS_ENDPOINT, COSMOS_KEY, COSMOS_DATABASE, COSMOS_CONTAINER | Cosmos DB connection | container `token_usage` |
 */
import { resolve } from "node:path";
import { ValidationError } from "./errors.js";

export type StoreKind = "sqlite" | "cosmos";

export interface EnvConfig {
  store: StoreKind;
  sqlitePath: string;
  pricingFile: string | undefined;
  enabled: boolean;
  /** Undefined when not set: the store then decides (a worker for a file, in-process for `:memory:`). */
  sqliteWorker: boolean | undefined;
}

export const DEFAULT_SQLITE_PATH = ".token-usage/usage.db";

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const store = (env.TOKEN_USAGE_STORE ?? "sqlite").trim().toLowerCase();
  if (store !== "sqlite" && store !== "cosmos") {
    throw new ValidationError("TOKEN_USAGE_STORE", `must be "sqlite" or "cosmos", got ${JSON.stringify(env.TOKEN_USAGE_STORE)}`);
  }
  return {
    store,
    sqlitePath: resolve(env.TOKEN_USAGE_DB || DEFAULT_SQLITE_PATH),
    pricingFile: env.TOKEN_USAGE_PRICING_FILE || undefined,
    enabled: parseBoolean(env.USAGE_TRACKING_ENABLED, "USAGE_TRACKING_ENABLED", true),
    sqliteWorker: env.TOKEN_USAGE_SQLITE_WORKER?.trim()
      ? parseBoolean(env.TOKEN_USAGE_SQLITE_WORKER, "TOKEN_USAGE_SQLITE_WORKER", true)
      : undefined,
  };
}

export function parseBoolean(value: string | undefined, field: string, fallback: boolean): boolean {
  if (value === undefined || value.trim() === "") return fallback;
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ValidationError(field, `must be true or false, got ${JSON.stringify(value)}`);
}
