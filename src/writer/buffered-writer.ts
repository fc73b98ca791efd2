/**
 * The writer between the handler and the store. `enqueue` is synchronous and does
 * no I/O, so the agent never waits for storage. A background loop writes batches;
 * a failed write keeps its records buffered and is retried with exponential backoff
 * and jitter. When the buffer passes `maxBufferedRecords` the overflow goes to the
 * spill journal (bounded memory), replayed once the store accepts writes again.
 * Nothing is dropped silently: every failure reaches the logger.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClosedError, StoreError } from "../errors.js";
import type { UsageRecord } from "../record/types.js";
import type { UsageStore } from "../stores/types.js";
import { SpillJournal } from "./spill-journal.js";

export interface Logger {
  debug?(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Builds a record later, off the agent's path; null when there is nothing to record. */
export type DeferredRecord = () => UsageRecord | null;

/** Where finished records go. The handler depends on this, not on the writer. */
export interface RecordSink {
  enqueue(record: UsageRecord): void;
  /**
   * Optional: accept a record to be built in the background. The handler uses it when
   * present, so extraction, pricing and validation cost the agent nothing.
   */
  enqueueDeferred?(build: DeferredRecord): void;
}

export interface WriterOptions {
  /** Records per store write. @default 200 */
  batchSize?: number;
  /** How long a lone record may wait for companions before it is written. @default 200 */
  flushIntervalMs?: number;
  /** Records kept in memory while the store is failing before spilling. @default 10000 */
  maxBufferedRecords?: number;
  /** Folder of the spill journal. @default `<tmpdir>/langchain-token-tracking/spill` */
  spillDir?: string;
  /** First retry delay; doubles up to `maxRetryDelayMs`. @default 100 */
  retryDelayMs?: number;
  /** @default 30000 */
  maxRetryDelayMs?: number;
  logger?: Logger;
  /** Called after every successful store write (the budget layer listens here). */
  onWritten?: (records: UsageRecord[], inserted: number) => void;
}

export interface WriterStats {
  enqueued: number;
  written: number;
  duplicates: number;
  failedAttempts: number;
  buffered: number;
  spilled: number;
  replayed: number;
  /** Calls whose record could not be built (reported to the logger, never stored corrupt). */
  rejected: number;
}

export class BufferedWriter implements RecordSink {
  private buffer: Array<UsageRecord | DeferredRecord> = [];
  private readonly journal: SpillJournal;
  private readonly opts: Required<Omit<WriterOptions, "onWritten" | "logger" | "spillDir">>;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private retryDelay: number;
  private journalMayHaveRecords = true;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  readonly stats: WriterStats = { enqueued: 0, written: 0, duplicates: 0, failedAttempts: 0, buffered: 0, spilled: 0, replayed: 0, rejected: 0 };

  constructor(
    private readonly store: UsageStore,
    private readonly options: WriterOptions = {},
  ) {
    this.opts = {
      batchSize: options.batchSize ?? 200,
      flushIntervalMs: options.flushIntervalMs ?? 200,
      maxBufferedRecords: options.maxBufferedRecords ?? 10_000,
      retryDelayMs: options.retryDelayMs ?? 100,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
    };
    this.retryDelay = this.opts.retryDelayMs;
    this.logger = options.logger ?? consoleLogger;
    this.journal = new SpillJournal(options.spillDir ?? join(tmpdir(), "langchain-token-tracking", "spill"));
  }

  enqueue(record: UsageRecord): void {
    this.push(record);
  }

  enqueueDeferred(build: DeferredRecord): void {
    this.push(build);
  }

  private push(entry: UsageRecord | DeferredRecord): void {
    if (this.closed) throw new ClosedError("the usage writer");
    this.buffer.push(entry);
    this.stats.enqueued++;
    if (this.buffer.length >= this.opts.batchSize) this.schedule(0);
    else this.schedule(this.opts.flushIntervalMs);
  }

  /** Records in memory or in the journal that are not yet durable in the store. */
  get pending(): number {
    return this.buffer.length + this.journal.pending;
  }

  /**
   * Resolves when everything enqueued so far is durable in the store. With a
   * timeout, rejects with a StoreError saying how many records are still kept
   * (they stay buffered or journaled and are written later, never dropped).
   */
  async flush(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.pending === 0 && !this.draining) return;
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.schedule(0);
    if (options.timeoutMs === undefined) return idle;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreError(`flush timed out with ${this.pending} records not yet stored (still kept for retry)`)),
        options.timeoutMs,
      );
    });
    try {
      await Promise.race([idle, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Flushes, then refuses new records. */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    try {
      await this.flush(options);
    } finally {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private schedule(delayMs: number): void {
    if (this.draining) return; // the running drain loops until the buffer is empty
    if (this.timer) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.draining = this.drain().finally(() => {
        this.draining = null;
        if (this.buffer.length > 0) this.schedule(0);
        else this.notifyIdle();
      });
    }, delayMs);
    // A pending write must not keep a finished script alive; `flush()` is how to wait for it.
    if (delayMs > 0) this.timer.unref();
  }

  private notifyIdle(): void {
    if (this.pending > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0 || this.journalMayHaveRecords) {
      try {
        if (this.journalMayHaveRecords) {
          const replayed = await this.journal.replay((batch) => this.write(batch), this.opts.batchSize);
          this.stats.replayed += replayed;
          this.journalMayHaveRecords = false;
        }
        if (this.buffer.length === 0) break;
        const batch = this.materialize(this.opts.batchSize);
        if (batch.length === 0) continue;
        await this.write(batch);
        this.buffer.splice(0, batch.length);
        this.retryDelay = this.opts.retryDelayMs;
      } catch (error) {
        this.stats.failedAttempts++;
        this.logger.warn(
          `token usage write failed (${this.pending} records kept, retry in ${this.retryDelay} ms): ${(error as Error).message}`,
        );
        await this.spillOverflow();
        await sleep(this.retryDelay * (0.5 + Math.random() / 2), this.closed);
        this.retryDelay = Math.min(this.retryDelay * 2, this.opts.maxRetryDelayMs);
      }
    }
    this.stats.buffered = this.buffer.length;
  }

  private async write(batch: UsageRecord[]): Promise<void> {
    const result = await this.store.append(batch);
    this.stats.written += result.inserted;
    this.stats.duplicates += result.duplicates;
    try {
      this.options.onWritten?.(batch, result.inserted);
    } catch (error) {
      this.logger.warn(`onWritten listener failed: ${(error as Error).message}`);
    }
  }

  /**
   * Builds the deferred records among the first `count` entries, in place, and returns
   * those entries. A record that cannot be built (corrupt input) is reported and removed:
   * it could never be stored correctly.
   */
  private materialize(count: number): UsageRecord[] {
    let i = 0;
    while (i < Math.min(count, this.buffer.length)) {
      const entry = this.buffer[i];
      if (typeof entry !== "function") {
        i++;
        continue;
      }
      let record: UsageRecord | null = null;
      try {
        record = entry();
      } catch (error) {
        this.stats.rejected++;
        this.logger.warn(`a model call could not be recorded: ${(error as Error).message}`);
      }
      if (record) this.buffer[i++] = record;
      else this.buffer.splice(i, 1);
    }
    return this.buffer.slice(0, i) as UsageRecord[];
  }

  /** Moves what exceeds the memory bound to the journal, oldest first. */
  private async spillOverflow(): Promise<void> {
    const excess = this.buffer.length - this.opts.maxBufferedRecords;
    if (excess <= 0) return;
    const overflow = this.materialize(excess);
    try {
      await this.journal.append(overflow);
      this.buffer.splice(0, overflow.length);
      this.stats.spilled += overflow.length;
      this.journalMayHaveRecords = true;
    } catch (error) {
      this.logger.error(`cannot spill ${overflow.length} records to the journal; keeping them in memory: ${(error as Error).message}`);
    }
  }
}

const consoleLogger: Logger = {
  warn: (m) => console.warn(`[token-tracking] ${m}`),
  error: (m) => console.error(`[token-tracking] ${m}`),
};

/** After `close()` gave up waiting, retries go on but no longer hold the process open. */
function sleep(ms: number, unref: boolean): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (unref) timer.unref();
  });
}
