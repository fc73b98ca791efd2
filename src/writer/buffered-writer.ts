/**
 * The writer between the handler and the store. `enqueue` is synchronous and does
 * no I/O, so the agent never waits for storage. A background loop writes batches;
 * a failed write puts its records back and is retried with exponential backoff and
 * jitter. While the store is failing, whatever exceeds `maxBufferedRecords` goes to
 * the spill journal (bounded memory), replayed once the store accepts writes again.
 * Nothing is dropped silently: every failure reaches the logger.
 *
 * Records leave the buffer only by being taken out of it (`splice`) before an await,
 * and go back to its front if that await fails, so a write and a spill can never
 * remove the same records twice.
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
   * present, so pricing, validation and record building cost the agent nothing.
   */
  enqueueDeferred?(build: DeferredRecord): void;
}

export interface WriterOptions {
  /**
   * Records per store write. Larger batches write faster (random-key index pages are
   * shared within a transaction) but a SQLite write holds the event loop for its whole
   * batch: about 20 ms for 1,000 records. @default 1000
   */
  batchSize?: number;
  /** How long a lone record may wait for companions before it is written. @default 200 */
  flushIntervalMs?: number;
  /** Records kept in memory while the store is failing; the rest is spilled. @default 10000 */
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
  spilled: number;
  replayed: number;
  /** Calls whose record could not be built (reported to the logger, never stored corrupt). */
  rejected: number;
}

type Entry = UsageRecord | DeferredRecord;

export class BufferedWriter implements RecordSink {
  private buffer: Entry[] = [];
  /** Records taken out for a store write or a spill that has not finished yet. */
  private inFlight = 0;
  private readonly journal: SpillJournal;
  private readonly opts: Required<Omit<WriterOptions, "onWritten" | "logger" | "spillDir">>;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private retryDelay: number;
  /** True until a replay found the journal folder empty; set again by every spill. */
  private journalMayHaveRecords = true;
  /** The last store write failed: new records beyond the bound are spilled. */
  private failing = false;
  /** Ends the current backoff early (the buffer passed its bound, or a flush asks). */
  private wake: (() => void) | null = null;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  readonly stats: WriterStats = { enqueued: 0, written: 0, duplicates: 0, failedAttempts: 0, spilled: 0, replayed: 0, rejected: 0 };

  constructor(
    private readonly store: UsageStore,
    private readonly options: WriterOptions = {},
  ) {
    this.opts = {
      batchSize: options.batchSize ?? 1000,
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

  private push(entry: Entry): void {
    if (this.closed) throw new ClosedError("the usage writer");
    this.buffer.push(entry);
    this.stats.enqueued++;
    if (this.failing) {
      if (this.buffer.length > this.opts.maxBufferedRecords) this.wake?.();
      return; // the drain loop is retrying and will take these along
    }
    if (this.buffer.length >= this.opts.batchSize) this.schedule(0);
    else this.schedule(this.opts.flushIntervalMs);
  }

  /** Records in memory, in flight, or in this process's journal: not yet durable in the store. */
  get pending(): number {
    return this.buffer.length + this.inFlight + this.journal.pending;
  }

  /**
   * Resolves when everything enqueued so far (and any journal left by a process that
   * died) is durable in the store. With a timeout, rejects with a StoreError saying how
   * many records are still kept: they stay buffered or journaled and are written later.
   */
  async flush(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.pending === 0 && !this.draining && !this.journalMayHaveRecords) return;
    let waiter!: () => void;
    const idle = new Promise<void>((resolve) => {
      waiter = resolve;
      this.idleWaiters.push(resolve);
    });
    this.schedule(0);
    this.wake?.();
    if (options.timeoutMs === undefined) return idle;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // A caller that stopped waiting must not keep the writer probing the journal.
        this.idleWaiters = this.idleWaiters.filter((w) => w !== waiter);
        reject(new StoreError(`flush timed out with ${this.pending} records not yet stored (still kept for retry)`));
      }, options.timeoutMs);
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

  /**
   * Writes everything still in memory to the journal, synchronously, for a process
   * that is about to exit without its store (graceful shutdown past its deadline).
   * The next process replays it. Returns how many records were saved this way.
   */
  spillAll(): number {
    const entries = this.buffer;
    this.buffer = [];
    const records = this.build(entries);
    try {
      this.journal.appendSync(records);
      this.stats.spilled += records.length;
      this.journalMayHaveRecords = true;
      return records.length;
    } catch (error) {
      this.buffer = [...records, ...this.buffer];
      this.logger.error(`cannot save ${records.length} records to the journal: ${(error as Error).message}`);
      return 0;
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
    if (this.pending > 0 || this.journalMayHaveRecords) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async drain(): Promise<void> {
    // The journal is replayed only once the store takes writes (or when nothing is buffered).
    while (this.buffer.length > 0 || (this.journalMayHaveRecords && (!this.failing || this.idleWaiters.length > 0))) {
      try {
        if (this.buffer.length > 0) {
          await this.writeBatch();
        } else {
          this.stats.replayed += await this.journal.replay((batch) => this.write(batch), this.opts.batchSize);
          this.journalMayHaveRecords = false;
        }
        this.failing = false;
        this.retryDelay = this.opts.retryDelayMs;
      } catch (error) {
        this.failing = true;
        this.stats.failedAttempts++;
        this.logger.warn(
          `token usage write failed (${this.pending} records kept, retry in ${this.retryDelay} ms): ${(error as Error).message}`,
        );
        await this.backoff(this.retryDelay * (0.5 + Math.random() / 2));
        this.retryDelay = Math.min(this.retryDelay * 2, this.opts.maxRetryDelayMs);
        if (this.closed && this.idleWaiters.length === 0) return;
      }
    }
  }

  private async writeBatch(): Promise<void> {
    const batch = this.take(this.opts.batchSize);
    if (batch.length === 0) return;
    this.inFlight += batch.length;
    try {
      await this.write(batch);
    } catch (error) {
      this.buffer.unshift(...batch);
      throw error;
    } finally {
      this.inFlight -= batch.length;
    }
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

  /** Waits out a retry delay, spilling whatever passes the memory bound meanwhile. */
  private async backoff(ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      await this.spillOverflow();
      const left = until - Date.now();
      if (left <= 0 || (this.idleWaiters.length > 0 && this.buffer.length === 0)) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        // After `close()` gave up waiting, retries go on but no longer hold the process open.
        if (this.closed) timer.unref();
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      if (this.idleWaiters.length > 0 && this.buffer.length <= this.opts.maxBufferedRecords) return;
    }
  }

  /** Moves what exceeds the memory bound to the journal, oldest first. */
  private async spillOverflow(): Promise<void> {
    const excess = this.buffer.length - this.opts.maxBufferedRecords;
    if (excess <= 0) return;
    const overflow = this.take(excess);
    this.inFlight += overflow.length;
    try {
      await this.journal.append(overflow);
      this.stats.spilled += overflow.length;
      this.journalMayHaveRecords = true;
    } catch (error) {
      this.buffer.unshift(...overflow);
      this.logger.error(`cannot spill ${overflow.length} records to the journal; keeping them in memory: ${(error as Error).message}`);
    } finally {
      this.inFlight -= overflow.length;
    }
  }

  /** Takes up to `count` entries off the front of the buffer, built into records. */
  private take(count: number): UsageRecord[] {
    return this.build(this.buffer.splice(0, count));
  }

  /**
   * Builds deferred records. One that cannot be built (corrupt input) is reported and
   * left out: it could never be stored correctly.
   */
  private build(entries: Entry[]): UsageRecord[] {
    const out: UsageRecord[] = [];
    for (const entry of entries) {
      if (typeof entry !== "function") {
        out.push(entry);
        continue;
      }
      try {
        const record = entry();
        if (record) out.push(record);
      } catch (error) {
        this.stats.rejected++;
        this.logger.warn(`a model call could not be recorded: ${(error as Error).message}`);
      }
    }
    return out;
  }
}

const consoleLogger: Logger = {
  warn: (m) => console.warn(`[token-tracking] ${m}`),
  error: (m) => console.error(`[token-tracking] ${m}`),
};
