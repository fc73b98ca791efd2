/**
 * The writer between the handler and the store. `enqueue` is synchronous and does
 * no I/O, so the agent never waits for storage. A background loop writes batches;
 * a failed write (the store cannot even be opened, or refuses the write) puts its
 * records back and is retried with exponential backoff and jitter, or at a slow pace
 * when the store is unusable as it is. While the store is failing, whatever exceeds
 * `maxBufferedRecords` goes to the spill journal (bounded memory), replayed once the
 * store accepts writes again. Nothing is dropped silently: every failure reaches the
 * logger (rate-limited), and `flush()` and `close()` are bounded in time.
 *
 * Records leave the buffer only by being taken out of it (`splice`) before an await,
 * and go back to its front if that await fails, so a write and a spill can never
 * remove the same records twice.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClosedError, FlushTimeoutError } from "../errors.js";
import type { UsageRecord } from "../record/types.js";
import type { UsageStore } from "../stores/types.js";
import { buildEntries, type Entry } from "./entries.js";
import { FailureLog, consoleLogger, isPermanent, messageOf } from "./failure-log.js";
import { SpillJournal } from "./spill-journal.js";
import { DrainTimer } from "./drain-timer.js";
import { FlushWaiters } from "./flush-waiters.js";
import { writerSettings, type DeferredRecord, type RecordSink, type WriterOptions, type WriterSettings, type WriterStats } from "./writer-options.js";

export type { Logger } from "./failure-log.js";
export type { DeferredRecord, RecordSink, WriterOptions, WriterStats } from "./writer-options.js";

export class BufferedWriter implements RecordSink {
  private buffer: Entry[] = [];
  /** Records taken out for a store write or a spill that has not finished yet. */
  private inFlight = 0;
  private readonly journal: SpillJournal;
  private readonly spillDir: string;
  private readonly opts: WriterSettings;
  private readonly failures: FailureLog;
  private readonly drainTimer = new DrainTimer(() => this.startDrain());
  private draining: Promise<void> | null = null;
  private retryDelay: number;
  /** True until a replay found the journal folder empty; set again by every spill. */
  private journalMayHaveRecords = true;
  /** The last store write failed: new records beyond the bound are spilled. */
  private failing = false;
  /** After a failed journal append, the journal is not tried again before this time. */
  private journalRetryAt = 0;
  private journalDelay = 0;
  /** Ends the current backoff early (the buffer passed its bound, or a flush asks). */
  private wake: (() => void) | null = null;
  private closed = false;
  private readonly idleWaiters = new FlushWaiters();
  readonly stats: WriterStats = { enqueued: 0, written: 0, duplicates: 0, failedAttempts: 0, spilled: 0, replayed: 0, rejected: 0, dropped: 0 };

  constructor(
    private readonly store: UsageStore,
    private readonly options: WriterOptions = {},
  ) {
    this.opts = writerSettings(options);
    this.retryDelay = this.opts.retryDelayMs;
    this.failures = new FailureLog(options.logger ?? consoleLogger, this.opts.warningIntervalMs);
    this.spillDir = options.spillDir ?? join(tmpdir(), "langchain-token-tracking", "spill");
    this.journal = new SpillJournal(this.spillDir, this.opts.maxJournalBytes);
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
      // Past the bound the retry loop spills; while the journal refuses too, memory is held here.
      if (this.journalDelay > 0 && this.buffer.length + this.inFlight > this.opts.maxMemoryRecords) this.enforceMemoryBound();
      if (this.buffer.length > this.opts.maxBufferedRecords && Date.now() >= this.journalRetryAt) this.wake?.();
      if (this.draining) return; // the drain loop is retrying and will take these along
    }
    if (this.buffer.length >= this.opts.batchSize) this.schedule(0);
    else this.schedule(this.opts.flushIntervalMs);
  }

  /** Records in memory, in flight, or in this process's journal: not yet durable in the store. */
  get pending(): number {
    return this.buffer.length + this.inFlight + this.journal.pending;
  }

  /** True while records wait on a failing store or in this process's spill journal. */
  get holdingBack(): boolean {
    return this.failing || this.journal.pending > 0;
  }

  /** How long `flush()` waits by default before it gives up. */
  get flushTimeoutMs(): number {
    return this.opts.flushTimeoutMs;
  }

  /**
   * Resolves when everything enqueued so far (and any journal left by a process that
   * died) is durable in the store. Bounded: after `timeoutMs` (default 30 s), or at once
   * when the store is unusable as it is, what is still in memory is written to the spill
   * journal and the call rejects with a FlushTimeoutError saying how many records are
   * journaled and where, and how many could not be journaled either.
   */
  flush(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.pending === 0 && !this.draining && !this.journalMayHaveRecords) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? this.opts.flushTimeoutMs;
    const done = this.idleWaiters.wait(timeoutMs, (reason) => this.giveUp(timeoutMs, reason));
    this.schedule(0);
    this.wake?.();
    return done;
  }

  /** Flushes (bounded by `timeoutMs`, default 10 s), then refuses new records. */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    try {
      await this.flush({ timeoutMs: options.timeoutMs ?? this.opts.closeTimeoutMs });
    } finally {
      this.closed = true;
      this.drainTimer.clear();
      await this.journal.close();
    }
  }

  /** Journals what is in memory and describes what is not stored, for a flush that gives up. */
  private giveUp(timeoutMs: number, reason?: string): FlushTimeoutError {
    this.spillAll();
    return new FlushTimeoutError({
      timeoutMs,
      reason,
      unstored: this.pending,
      spilled: this.journal.pending,
      journal: this.spillDir,
      atRisk: this.buffer.length + this.inFlight,
    });
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
      if (records.length > 0) this.journalMayHaveRecords = true;
      return records.length;
    } catch (error) {
      this.buffer = [...records, ...this.buffer];
      this.failures.report("journal", "error", `cannot save ${records.length} records to the spill journal in ${this.spillDir}: ${messageOf(error)}`);
      return 0;
    }
  }

  private schedule(delayMs: number): void {
    if (this.draining) return; // the running drain loops until the buffer is empty
    this.drainTimer.schedule(delayMs);
  }

  private startDrain(): void {
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.buffer.length > 0) this.schedule(0);
      else this.notifyIdle();
    });
  }

  private notifyIdle(): void {
    if (this.pending > 0 || this.journalMayHaveRecords) return;
    this.idleWaiters.resolveAll();
  }

  private async drain(): Promise<void> {
    // The journal is replayed once the store takes writes, when a flush waits, or to retry
    // this process's own spilled records (nothing else would bring them back).
    while (
      this.buffer.length > 0 ||
      (this.journalMayHaveRecords && (!this.failing || this.idleWaiters.size > 0 || this.journal.pending > 0))
    ) {
      try {
        if (this.buffer.length > 0) {
          await this.writeBatch();
        } else {
          this.stats.replayed += await this.journal.replay((batch) => this.write(batch), this.opts.batchSize);
          this.journalMayHaveRecords = false;
        }
        this.failing = false;
        this.retryDelay = this.opts.retryDelayMs;
        this.failures.storeRecovered(this.pending);
      } catch (error) {
        this.failing = true;
        this.stats.failedAttempts++;
        const unusable = isPermanent(error);
        const delay = unusable ? this.opts.unusableRetryDelayMs : this.retryDelay * (0.5 + Math.random() / 2);
        this.failures.storeFailed(
          error,
          unusable
            ? `${this.pending} records are kept (in memory, then in the spill journal in ${this.spillDir}) and the store is tried again every ${Math.round(delay / 1000)} s`
            : `${this.pending} records kept, retry in ${Math.round(delay)} ms`,
        );
        // Waiting out a flush's timeout cannot help a store that is unusable as it is.
        if (unusable) this.idleWaiters.failAll(messageOf(error));
        await this.backoff(delay);
        if (!unusable) this.retryDelay = Math.min(this.retryDelay * 2, this.opts.maxRetryDelayMs);
        if (this.closed && this.idleWaiters.size === 0) return;
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
    for (const warning of result.warnings ?? []) this.failures.report(`store: ${warning}`, "warn", warning);
    try {
      this.options.onWritten?.(batch, result.inserted);
    } catch (error) {
      this.failures.report("onWritten", "warn", `onWritten listener failed: ${messageOf(error)}`);
    }
  }

  /** Waits out a retry delay, spilling whatever passes the memory bound meanwhile. */
  private async backoff(ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      await this.spillOverflow();
      const left = until - Date.now();
      if (left <= 0 || (this.idleWaiters.size > 0 && this.buffer.length === 0)) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        // Records only in the journal are safe on disk, and after `close()` gave up waiting
        // retries go on: neither holds the process open. Records in memory do.
        if (this.closed || this.buffer.length === 0) timer.unref();
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      // A flush retries at once, after spilling what it can (nothing while the journal refuses).
      if (this.idleWaiters.size > 0 && (this.buffer.length <= this.opts.maxBufferedRecords || this.journalDelay > 0)) return;
    }
  }

  /**
   * Moves what exceeds the memory bound to the journal, oldest first. When the journal
   * fails too (a full disk, its own size bound), it is tried again after a delay, and
   * memory is held to `maxMemoryRecords` by dropping the oldest records, counted and reported.
   */
  private async spillOverflow(): Promise<void> {
    const excess = this.buffer.length - this.opts.maxBufferedRecords;
    if (excess <= 0) return;
    if (Date.now() >= this.journalRetryAt) {
      const overflow = this.take(excess);
      this.inFlight += overflow.length;
      try {
        await this.journal.append(overflow);
        this.stats.spilled += overflow.length;
        this.journalMayHaveRecords = true;
        this.journalDelay = 0;
      } catch (error) {
        this.buffer.unshift(...overflow);
        this.journalDelay = Math.min(Math.max(this.journalDelay * 2, 1000), 30_000);
        this.journalRetryAt = Date.now() + this.journalDelay;
        this.failures.report(
          "journal",
          "error",
          `cannot write the spill journal in ${this.spillDir} (${messageOf(error)}): up to ${this.opts.maxMemoryRecords} records ` +
            `stay in memory, beyond that the oldest are dropped and counted`,
        );
      } finally {
        this.inFlight -= overflow.length;
      }
    }
    // Only while the journal refuses: with a working journal, what arrived during its write is spilled next.
    if (this.journalDelay > 0) this.enforceMemoryBound();
  }

  /** Records in memory (buffered or in a failing write) are held to `maxMemoryRecords`. */
  private enforceMemoryBound(): void {
    const excess = Math.min(this.buffer.length, this.buffer.length + this.inFlight - this.opts.maxMemoryRecords);
    if (excess <= 0) return;
    // Deferred entries are dropped unbuilt: building them would cost for nothing.
    this.buffer.splice(0, excess);
    this.stats.dropped += excess;
    this.failures.report(
      "dropped",
      "error",
      `dropped ${excess} token usage records, ${this.stats.dropped} since start: neither the store nor the spill journal ` +
        `takes writes and memory holds at most ${this.opts.maxMemoryRecords} (maxMemoryRecords)`,
    );
  }

  /** Takes up to `count` entries off the front of the buffer, built into records. */
  private take(count: number): UsageRecord[] {
    return this.build(this.buffer.splice(0, count));
  }

  /** Builds deferred records; one that cannot be built is counted and reported (see buildEntries). */
  private build(entries: Entry[]): UsageRecord[] {
    return buildEntries(entries, (error) => {
      this.stats.rejected++;
      this.failures.report("rejected", "warn", `a model call could not be recorded: ${messageOf(error)}`);
    });
  }
}
