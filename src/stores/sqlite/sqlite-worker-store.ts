/**
 * The SQLite store on a worker thread. better-sqlite3 is synchronous: in the main thread a
 * write transaction (about 20 ms for 1,000 records at a million stored) or a wait on
 * another process's lock holds the event loop, and so the agent. This store forwards every
 * call of the contract to a worker that owns the database; answers are identical (the same
 * `SqliteUsageStore` runs there). The default for a file; `createTokenMonitor({ sqliteWorker: false })`
 * or `TOKEN_USAGE_SQLITE_WORKER=false` runs SQLite in-process instead.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { ClosedError, StoreError, StoreUnusableError, TokenTrackingError, ValidationError } from "../../errors.js";
import type { UsageRecord } from "../../record/types.js";
import type {
  AggregateQuery,
  AggregateRow,
  AppendResult,
  BudgetCounterState,
  BudgetCounterUpdate,
  CostUpdate,
  DaySpan,
  LeaderCost,
  LeaderEntity,
  LeaderKey,
  PageRequest,
  RecordFilter,
  SpanLeader,
  StoreCapabilities,
  UsageStore,
} from "../types.js";
import { packRows, type PackedRows } from "./packed-rows.js";
import { checkAppendable, recordToValues } from "./rows.js";
import type { SqliteUsageStoreOptions } from "./sqlite-usage-store.js";
import type { WorkerRequest, WorkerResponse } from "./sqlite-worker.js";

/** How long `close()` waits for the worker to close the database before ending the thread. */
const CLOSE_TIMEOUT_MS = 5000;

export class SqliteWorkerStore implements UsageStore {
  readonly kind = "sqlite";
  readonly capabilities: StoreCapabilities;
  readonly path: string;
  /** Started by the first call, and again by the next call after the thread died. */
  private worker: Worker | null = null;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private closed = false;

  /** Does no I/O and starts no thread: the first call does. */
  constructor(private readonly options: SqliteUsageStoreOptions) {
    this.path = options.path;
    this.capabilities = { rollups: true, multiProcess: options.path !== ":memory:", ttl: false };
  }

  private start(): Worker {
    const script = workerScript();
    // execArgv: [] starts the thread clean. By default a worker inherits the parent's flags,
    // and flags about the parent's own entry point break it: under `node --input-type=module -e`
    // every module load fails (ERR_INPUT_TYPE_NOT_ALLOWED). The worker runs only this
    // package and better-sqlite3, which need none of them.
    const worker = script.pathname.endsWith(".ts")
      ? // From the TypeScript sources (tests, tsx) the worker registers tsx's loader first.
        new Worker(
          // tsx is resolved from here, not from the working directory the eval'd worker would use.
          `import(${JSON.stringify(tsxApiUrl())}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(script.href)}))`,
          { eval: true, workerData: this.options, execArgv: [] },
        )
      : new Worker(script, { workerData: this.options, execArgv: [] });
    // An idle worker must not keep a finished script alive; calls in flight hold it (see call()).
    worker.unref();
    worker.on("message", (response: WorkerResponse) => this.settle(response));
    worker.on("error", (error: unknown) => {
      this.fail(worker, new StoreError(`the SQLite worker for ${this.path} failed: ${describe(error)}`, { cause: error }));
    });
    worker.on("exit", (code) => this.fail(worker, new StoreError(`the SQLite worker for ${this.path} stopped (exit code ${code})`)));
    return worker;
  }

  /**
   * Records cross to the worker as rows of plain values in column order, packed by column
   * (packed-rows.ts): plain values clone for a fraction of what a record object costs (whose
   * 36 keys are written and read again for every record), and a column the whole batch
   * shares is cloned once.
   */
  append(records: UsageRecord[]): Promise<AppendResult> {
    let rows: PackedRows;
    try {
      checkAppendable(records);
      rows = packRows(records.map(recordToValues));
    } catch (error) {
      if (error instanceof ValidationError) return Promise.reject(error);
      // A record that is not even a row: the worker's store refuses it as it always did.
      return this.call("append", records);
    }
    return this.call("appendPacked", rows);
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
  leaders(entity: LeaderEntity, spans: DaySpan[], offset: number, limit: number): Promise<SpanLeader[]> {
    return this.call("leaders", entity, spans, offset, limit);
  }
  leaderTotals(entity: LeaderEntity, keys: LeaderKey[], range: { start: string; end: string }): Promise<AggregateRow[]> {
    return this.call("leaderTotals", entity, keys, range);
  }
  leaderCosts(entity: LeaderEntity, keys: LeaderKey[], range: { start: string; end: string }): Promise<LeaderCost[]> {
    return this.call("leaderCosts", entity, keys, range);
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
  updateBudgetCounters(updates: BudgetCounterUpdate[]): Promise<BudgetCounterState[]> {
    return this.call("updateBudgetCounters", updates);
  }
  readBudgetCounters(keys: Array<{ key: string; partition: string }>, now: number): Promise<Array<BudgetCounterState | null>> {
    return this.call("readBudgetCounters", keys, now);
  }
  claimOnce(namespace: string, key: string): Promise<boolean> {
    return this.call("claimOnce", namespace, key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      // Bounded: a thread stuck in a lock wait must not hold the shutdown.
      await Promise.race([
        this.send(worker, "close", []),
        new Promise((resolve) => {
          timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
        }),
      ]);
    } catch {
      // The thread failed or the database could not close cleanly: ending the thread releases it.
    } finally {
      clearTimeout(timer);
      this.worker = null;
      await worker.terminate();
    }
  }

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError("the SQLite worker store"));
    this.worker ??= this.start();
    return this.send(this.worker, method, args);
  }

  private send<T>(worker: Worker, method: string, args: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      const request: WorkerRequest = { id, method, args };
      worker.postMessage(request);
    });
  }

  private settle(response: WorkerResponse): void {
    const waiter = this.pending.get(response.id);
    if (!waiter) return;
    this.pending.delete(response.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (response.error) waiter.reject(reviveError(response.error));
    else waiter.resolve(response.result);
  }

  /** The thread died: its calls fail with why (the writer retries them), and the next call starts a new one. */
  private fail(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.message}${(error as { code?: unknown }).code ? ` (${String((error as { code?: unknown }).code)})` : ""}`;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** Errors cross the thread boundary as plain data; the package's own come back as themselves. */
function reviveError(e: NonNullable<WorkerResponse["error"]>): Error {
  if (e.code === "ERR_VALIDATION" && e.field) return new ValidationError(e.field, e.message.replace(`${e.field}: `, ""));
  if (e.code === "ERR_CLOSED") return new ClosedError("the SQLite worker store");
  if (e.code === "ERR_STORE_UNUSABLE") return new StoreUnusableError(e.location ?? "", e.message);
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
