/** The writer's public shapes: the sink the handler sees, its options and its counters. */
import type { UsageRecord } from "../record/types.js";
import type { Logger } from "./failure-log.js";
import { DEFAULT_MAX_JOURNAL_BYTES } from "./spill-journal.js";

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
  /**
   * How long a record may wait for companions before it is written: what a process killed
   * outright (SIGKILL, out of memory) can lose, against what each flush costs. A commit pays
   * for every page it touches whatever the number of records, so fewer, larger flushes cost
   * less per call: a replica at 50 calls/s over 10,000 users spends about a third less CPU
   * per call flushing every second than every 200 ms. The ecosystem's batchers wait as long
   * or longer (OpenTelemetry's batch span processor, and so Langfuse's SDKs, 5 s).
   * `flush()` writes at once whatever the interval. @default 1000
   */
  flushIntervalMs?: number;
  /** Records kept in memory while the store is failing; the rest is spilled. @default 10000 */
  maxBufferedRecords?: number;
  /**
   * Records kept in memory when neither the store nor the spill journal takes writes
   * (a full disk): past it the oldest are dropped, counted in `stats.dropped` and
   * reported. @default 2 × maxBufferedRecords
   */
  maxMemoryRecords?: number;
  /** Folder of the spill journal. @default `<tmpdir>/langchain-token-tracking/spill` */
  spillDir?: string;
  /** Bytes this process may keep in its spill journal; past it the journal takes no more. @default 268435456 (256 MiB) */
  maxJournalBytes?: number;
  /** First retry delay; doubles up to `maxRetryDelayMs`. @default 100 */
  retryDelayMs?: number;
  /** @default 30000 */
  maxRetryDelayMs?: number;
  /** Retry pace for a store that cannot be used as it is (not a database, read-only, newer schema). @default 60000 */
  unusableRetryDelayMs?: number;
  /** How long `flush()` waits before journaling what is left and rejecting. @default 30000 */
  flushTimeoutMs?: number;
  /** How long `close()` waits for the store before journaling what is left. @default 10000 */
  closeTimeoutMs?: number;
  /** At most one warning of each kind per interval (store failures, spill failures, drops). @default 30000 */
  warningIntervalMs?: number;
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
  /** Records dropped because neither the store, the journal nor memory could hold them (reported). */
  dropped: number;
}

export type WriterSettings = Required<Omit<WriterOptions, "onWritten" | "logger" | "spillDir">>;

/** See `WriterOptions.flushIntervalMs`. */
export const DEFAULT_FLUSH_INTERVAL_MS = 1000;

/** The options with their defaults filled in. */
export function writerSettings(options: WriterOptions): WriterSettings {
  const maxBufferedRecords = options.maxBufferedRecords ?? 10_000;
  return {
    batchSize: options.batchSize ?? 1000,
    flushIntervalMs: options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS,
    maxBufferedRecords,
    maxMemoryRecords: Math.max(options.maxMemoryRecords ?? 2 * maxBufferedRecords, maxBufferedRecords),
    maxJournalBytes: options.maxJournalBytes ?? DEFAULT_MAX_JOURNAL_BYTES,
    retryDelayMs: options.retryDelayMs ?? 100,
    maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
    unusableRetryDelayMs: options.unusableRetryDelayMs ?? 60_000,
    flushTimeoutMs: options.flushTimeoutMs ?? 30_000,
    closeTimeoutMs: options.closeTimeoutMs ?? 10_000,
    warningIntervalMs: options.warningIntervalMs ?? 30_000,
  };
}
