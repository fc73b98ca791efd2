/** Picks the backend: a store object, `sqlite` (the default) or `cosmos`. */
import { dirname, join } from "node:path";
import { configFromEnv, type StoreKind } from "../config.js";
import { CosmosUsageStore, type CosmosUsageStoreOptions } from "./cosmos/index.js";
import { SqliteUsageStore, SqliteWorkerStore } from "./sqlite/index.js";
import type { UsageStore } from "./types.js";

export interface StoreSelection {
  /** A ready store, or which backend to create. @default env TOKEN_USAGE_STORE, else "sqlite" */
  store?: UsageStore | StoreKind;
  /** SQLite file. @default env TOKEN_USAGE_DB, else `.token-usage/usage.db` */
  sqlitePath?: string;
  /** Cosmos DB options (endpoint and key default to COSMOS_* env variables). */
  cosmos?: CosmosUsageStoreOptions;
  /**
   * Run SQLite on a worker thread, so no write or lock wait holds the event loop.
   * @default env TOKEN_USAGE_SQLITE_WORKER, else true for a file and false for `:memory:`
   */
  sqliteWorker?: boolean;
}

export function createStore(selection: StoreSelection = {}, env: NodeJS.ProcessEnv = process.env): UsageStore {
  if (selection.store && typeof selection.store === "object") return selection.store;
  const config = configFromEnv(env);
  const kind = selection.store ?? config.store;
  if (kind === "cosmos") return new CosmosUsageStore(selection.cosmos ?? {});
  const path = selection.sqlitePath ?? config.sqlitePath;
  const worker = selection.sqliteWorker ?? config.sqliteWorker ?? path !== ":memory:";
  return worker ? new SqliteWorkerStore({ path }) : new SqliteUsageStore({ path });
}

/** Where the spill journal lives: beside a SQLite file, else in a per-user temp folder. */
export function defaultSpillDir(store: UsageStore): string | undefined {
  if ((store instanceof SqliteUsageStore || store instanceof SqliteWorkerStore) && store.path !== ":memory:") {
    return join(dirname(store.path), "spill");
  }
  return undefined;
}
