/**
 * The SQLite store on a worker thread. better-sqlite3 is synchronous: in the main thread a
 * write transaction (about 20 ms for 1,000 records at a million stored) or a wait on
 * another process's lock holds the event loop, and so the agent. This store forwards every
 * call of the contract to a worker that owns the database; answers are identical (the same
 * `SqliteUsageStore` runs there). Opt in with `createTokenMonitor({ sqliteWorker: true })`
 * or `TOKEN_USAGE_SQLITE_WORKER=true`.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { ClosedError, StoreError, TokenTrackingError, ValidationError } from "../../errors.js";
import type { UsageRecord } from "../../record/types.js";
import type {
  AggregateQuery,
  AggregateRow,
  AppendResult,
  CostUpdate,
  PageRequest,
  RecordFilter,
  StoreCapabilities,
  UsageStore,
} from "../types.js";
import { checkAppendable, recordToValues, type RecordValues } from "./rows.js";
import type { SqliteUsageStoreOptions } from "./sqlite-usage-store.js";
import type { WorkerRequest, WorkerResponse } from "./sqlite-worker.js";

/**
 * The parent's Node options, less `--input-type`: a worker inherits execArgv, and Node
 * refuses to start one under `--input-type` (a script run as `node --input-type=module
 * -e ...` would otherwise never store a record).
 */
function workerExecArgv(): string[] {
  const args: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const arg = process.execArgv[i];
    if (arg === "--input-type") i++;
    else if (!arg.startsWith("--input-type=")) args.push(arg);
  }
  return args;
}

export class SqliteWorkerStore implements UsageStore {
  readonly kind = "sqlite";
  readonly capabilities: StoreCapabilities;
  readonly path: string;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private closed = false;
  /** Set once the worker died: every call after that fails at once with it. */
  private failure: Error | null = null;

  constructor(options: SqliteUsageStoreOptions) {
    this.path = options.path;
    this.capabilities = { rollups: true, multiProcess: options.path !== ":memory:", ttl: false };
    const script = workerScript();
    this.worker = script.pathname.endsWith(".ts")
      ? // From the TypeScript sources (tests, tsx) the worker registers tsx's loader first.
        new Worker(
          // tsx is resolved from here, not from the working directory the eval'd worker would use.
          `import(${JSON.stringify(tsxApiUrl())}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(script.href)}))`,
          { eval: true, workerData: options, execArgv: workerExecArgv() },
        )
      : new Worker(script, { workerData: options, execArgv: workerExecArgv() });
    // An idle worker must not keep a finished script alive; calls in flight hold it (see call()).
    this.worker.unref();
    this.worker.on("message", (response: WorkerResponse) => this.settle(response));
    this.worker.on("error", (error) => this.fail(new StoreError(`the SQLite worker failed: ${error.message}`, { cause: error })));
    this.worker.on("exit", () => this.fail(new ClosedError("the SQLite worker store")));
  }

  /**
   * Records cross to the worker as rows of plain values in column order: an array of
   * primitives is cloned, and rebuilt on the other side, for a fraction of what a record
   * object costs (whose 36 keys are written and read again for every record).
   */
  append(records: UsageRecord[]): Promise<AppendResult> {
    let rows: RecordValues[];
    try {
      checkAppendable(records);
      rows = records.map(recordToValues);
    } catch (error) {
      if (error instanceof ValidationError) return Promise.reject(error);
      return Promise.reject(new StoreError(`SQLite append of ${records.length} records failed: ${(error as Error).message}`, { cause: error }));
    }
    return this.call("appendRows", rows);
  }
  list(filter: RecordFilter, page: PageRequest): Promise<UsageRecord[]> {
    return this.call("list", filter, page);
  }
  get(id: string, userId?: string): Promise<UsageRecord | null> {
    return this.call("get", id, userId);
  }
  aggregate(query: AggregateQuery): Promise<AggregateRow[]> {
    return this.call("aggregate", query);
  }
  updateCosts(updates: CostUpdate[]): Promise<number> {
    return this.call("updateCosts", updates);
  }
  prune(before: string, filter?: { userId?: string }): Promise<number> {
    return this.call("prune", before, filter);
  }
  rebuildRollups(): Promise<void> {
    return this.call("rebuildRollups");
  }
  getSetting<T = unknown>(namespace: string, key: string): Promise<T | null> {
    return this.call("getSetting", namespace, key);
  }
  putSetting(namespace: string, key: string, value: unknown): Promise<void> {
    return this.call("putSetting", namespace, key, value);
  }
  deleteSetting(namespace: string, key: string): Promise<boolean> {
    return this.call("deleteSetting", namespace, key);
  }
  listSettings<T = unknown>(namespace: string): Promise<Array<{ key: string; value: T }>> {
    return this.call("listSettings", namespace);
  }
  claimOnce(namespace: string, key: string): Promise<boolean> {
    return this.call("claimOnce", namespace, key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.call("close");
    this.closed = true;
    await this.worker.terminate();
  }

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError("the SQLite worker store"));
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      const request: WorkerRequest = { id, method, args };
      this.worker.postMessage(request);
    });
  }

  private settle(response: WorkerResponse): void {
    const waiter = this.pending.get(response.id);
    if (!waiter) return;
    this.pending.delete(response.id);
    if (this.pending.size === 0) this.worker.unref();
    if (response.error) waiter.reject(reviveError(response.error));
    else waiter.resolve(response.result);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}

/** Errors cross the thread boundary as plain data; the package's own come back as themselves. */
function reviveError(e: NonNullable<WorkerResponse["error"]>): Error {
  if (e.code === "ERR_VALIDATION" && e.field) return new ValidationError(e.field, e.message.replace(`${e.field}: `, ""));
  if (e.code === "ERR_CLOSED") return new ClosedError("the SQLite worker store");
  if (e.code === "ERR_STORE") return new StoreError(e.message);
  if (e.code) return new TokenTrackingError(e.code, e.message);
  return new StoreError(e.message);
}

/** The worker's entry beside this module: `.js` when built, `.ts` from the sources. */
function workerScript(): URL {
  const here = new URL(import.meta.url);
  const ext = here.pathname.endsWith(".ts") ? ".ts" : here.pathname.endsWith(".cjs") ? ".cjs" : ".js";
  return new URL(`./sqlite-worker${ext}`, here);
}

/**
 * tsx's register API (its ESM entry, from its package.json exports) as a file URL
 * resolved from this module, so the sources run from any working directory: an
 * eval'd worker would resolve a bare name from the cwd.
 */
function tsxApiUrl(): string {
  const manifest = createRequire(import.meta.url).resolve("tsx/package.json");
  const exports = (JSON.parse(readFileSync(manifest, "utf8")) as { exports: Record<string, { import: { default: string } }> }).exports;
  return pathToFileURL(join(dirname(manifest), exports["./esm/api"].import.default)).href;
}
