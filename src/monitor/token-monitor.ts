/**
 * `TokenMonitoringService`: the one object an application holds. It owns the store,
 * the writer and the pricer, makes callback handlers, records manual usage, and
 * answers every usage question through `UsageQueries`.
 */
import { ValidationError } from "../errors.js";
import { configFromEnv } from "../config.js";
import { callbacksQueuedSoFar } from "./callback-queue.js";
import { TokenTrackingCallbackHandler } from "../handler/token-tracking-handler.js";
import type { AttributionDefaults } from "../handler/attribution.js";
import { createPricer, loadPricingOverridesFile } from "../pricing/index.js";
import type { Pricer, PricingOptions } from "../pricing/types.js";
import { buildRecord, type UsageInput } from "../record/build-record.js";
import type { UsageRecord } from "../record/types.js";
import { UsageQueries, type QueryOptions, type UsageReport } from "../query/usage-queries.js";
import { resolveRange, type RangeInput } from "../query/range.js";
import { createStore, defaultSpillDir, type StoreSelection } from "../stores/create-store.js";
import type { CostUpdate } from "../stores/types.js";
import { BufferedWriter, type Logger, type RecordSink, type WriterOptions } from "../writer/buffered-writer.js";
import type { BudgetGuard, BudgetGuardOptions } from "../budget/budget-guard.js";
import { budgetConfigFromEnv } from "../budget/env-config.js";
import { budgetWriteRelay, createBudgetGuard } from "../budget/wiring.js";
import { UsageTelemetry, type TelemetryOptions } from "../telemetry/index.js";

export interface TokenMonitorOptions extends StoreSelection {
  /** Price overrides, or a ready pricer. @default the offline catalog (+ TOKEN_USAGE_PRICING_FILE) */
  pricing?: PricingOptions | Pricer;
  writer?: WriterOptions;
  logger?: Logger;
  /** False makes handlers and `trackUsage` no-ops. @default env USAGE_TRACKING_ENABLED, else true */
  enabled?: boolean;
  /**
   * Budget limits and alert sinks (limits from env and `BUDGET_CONFIG_FILE` are added),
   * or `false` for no budget guard at all. @default limits from the environment only
   */
  budget?: Omit<BudgetGuardOptions, "monitor"> | false;
  /**
   * OpenTelemetry metrics of every stored record (GenAI semantic conventions), or `false`.
   * @default the global MeterProvider of `@opentelemetry/api`, when that package is installed
   */
  telemetry?: TelemetryOptions | false;
  env?: NodeJS.ProcessEnv;
}

export interface HandlerOptions extends AttributionDefaults {
  dimensions?: Record<string, string>;
}

export interface RepriceOptions extends RangeInput {
  userId?: string;
  /** Called after each batch with records seen so far. */
  onProgress?: (progress: { processed: number; changed: number }) => void;
  batchSize?: number;
}

export class TokenMonitoringService extends UsageQueries {
  readonly writer: BufferedWriter;
  readonly pricer: Pricer;
  readonly enabled: boolean;
  /** The budget guard: limits, status, alerts; its handler enforces before calls. */
  readonly budget: BudgetGuard | undefined;
  /** True when `BUDGET_ENFORCEMENT=block`: attachTokenTracking then adds the guard by itself. */
  readonly budgetEnforced: boolean;
  /** OpenTelemetry metrics, fed by the writer after each durable write. */
  readonly telemetry: UsageTelemetry | undefined;
  private readonly logger: Logger;

  constructor(options: TokenMonitorOptions = {}) {
    const env = options.env ?? process.env;
    const store = createStore(options, env);
    super(store);
    const config = configFromEnv(env);
    this.enabled = options.enabled ?? config.enabled;
    this.logger = options.logger ?? defaultLogger;
    this.pricer = isPricer(options.pricing)
      ? options.pricing
      : createPricer({
          ...(config.pricingFile ? loadPricingOverridesFile(config.pricingFile) : {}),
          ...options.pricing,
          logger: options.pricing?.logger ?? this.logger,
        });
    // The guard and the metrics learn about spend from every durable write.
    this.telemetry = options.telemetry === false ? undefined : new UsageTelemetry({ logger: this.logger, ...options.telemetry });
    const telemetry = this.telemetry;
    const onWritten = options.writer?.onWritten;
    const relay = budgetWriteRelay(telemetry ? (records, inserted) => (onWritten?.(records, inserted), telemetry.onWritten(records, inserted)) : onWritten);
    this.writer = new BufferedWriter(store, {
      spillDir: defaultSpillDir(store),
      logger: this.logger,
      ...options.writer,
      onWritten: relay.onWritten,
    });
    this.budgetEnforced = budgetConfigFromEnv(env).mode === "block";
    this.budget = options.budget === false ? undefined : createBudgetGuard(this, { logger: this.logger, ...options.budget, env });
    if (this.budget) relay.attach(this.budget);
    if (this.budget) this.telemetry?.observeBudget(this.budget);
  }

  /** A handler that records every model call into this service's store. */
  createCallbackHandler(options: HandlerOptions = {}): TokenTrackingCallbackHandler {
    return new TokenTrackingCallbackHandler({
      ...options,
      sink: this.enabled ? this.writer : discard,
      pricer: this.pricer,
      logger: this.logger,
    });
  }

  /**
   * Records a hand-logged call (another SDK, an import, a test). Validates and
   * prices it, then queues it like the handler does; `flush()` makes it durable.
   * Rejects with a ValidationError naming the field when the input is invalid.
   */
  async trackUsage(input: UsageInput): Promise<UsageRecord> {
    const record = buildRecord(input, this.pricer);
    if (this.enabled) this.writer.enqueue(record);
    return record;
  }

  /** The report, with the budget and subscription status of every global and provider limit. */
  override async getComprehensiveReport(options: QueryOptions & { limit?: number } = {}): Promise<UsageReport> {
    const [report, budget] = await Promise.all([super.getComprehensiveReport(options), this.budget?.getBudgetStatus()]);
    return budget ? { ...report, budget } : report;
  }

  /** Writes records straight to the store (imports); returns how many were new. */
  async importRecords(inputs: UsageInput[]): Promise<{ inserted: number; duplicates: number }> {
    const records = inputs.map((input, i) => {
      try {
        return buildRecord(input, this.pricer);
      } catch (error) {
        if (error instanceof ValidationError) throw new ValidationError(`records[${i}].${error.field}`, error.message, { cause: error });
        throw error;
      }
    });
    let inserted = 0;
    let duplicates = 0;
    for (let i = 0; i < records.length; i += 500) {
      const result = await this.store.append(records.slice(i, i + 500));
      inserted += result.inserted;
      duplicates += result.duplicates;
    }
    return { inserted, duplicates };
  }

  /**
   * Resolves when every record tracked so far is durable in the store. LangChain runs
   * callbacks in a background queue, so this first waits for that queue: a call whose
   * `invoke()` returned is then counted even if its end callback had not run yet.
   * Bounded (default 30 s): see BufferedWriter.flush. The wait for the callback queue has
   * the same bound; past it, what was tracked so far is flushed and a warning says why.
   */
  async flush(options?: { timeoutMs?: number }): Promise<void> {
    const queueTimeoutMs = options?.timeoutMs ?? this.writer.flushTimeoutMs;
    if (!(await callbacksQueuedSoFar(queueTimeoutMs))) {
      this.logger.warn(
        `flush: LangChain's callback queue was still busy after ${queueTimeoutMs} ms (a callback handler that does not finish?); ` +
          "flushing the calls tracked so far",
      );
    }
    await this.writer.flush(options);
    // Views the store builds asynchronously (Cosmos global rollups) include what was just written.
    await this.store.flush?.();
    // Budget usage settled so far reaches the shared counters too (and their alerts).
    await this.budget?.flushUsage().catch(() => undefined);
  }

  /**
   * Flushes (bounded: default 10 s, see BufferedWriter.close) and closes the store. Rejects
   * with a FlushTimeoutError saying what was journaled and what is at risk when the store
   * did not take everything in time.
   */
  async close(options?: { timeoutMs?: number }): Promise<void> {
    try {
      await this.writer.close(options);
    } finally {
      // Also when the writer gave up (it says how many records it journaled): release the rest.
      try {
        await this.budget?.close();
      } finally {
        this.telemetry?.close();
        await this.store.close();
      }
    }
  }

  /**
   * Recomputes the cost of stored records with the current catalog and overrides,
   * idempotently (a second run changes nothing). Returns how many records changed.
   */
  async repriceUsage(options: RepriceOptions = {}): Promise<{ processed: number; changed: number }> {
    const range = options.start === undefined && options.days === undefined
      ? resolveRange({ start: new Date("2000-01-01T00:00:00Z"), end: options.end })
      : resolveRange(options);
    const batchSize = options.batchSize ?? 500;
    let after: { timestamp: string; id: string } | undefined;
    let processed = 0;
    let changed = 0;
    for (;;) {
      const records = await this.store.list({ ...range, userId: options.userId }, { limit: batchSize, after });
      if (records.length === 0) break;
      const updates: CostUpdate[] = [];
      for (const r of records) {
        if (r.cached) continue;
        const cost = this.pricer.price(r, { model: r.model, provider: r.provider, deployment: r.deployment, timestamp: r.timestamp });
        if (cost.totalCostNanos !== r.totalCostNanos || cost.priced !== r.priced || cost.priceSource !== r.priceSource) {
          updates.push({
            id: r.id,
            userId: r.userId,
            inputCostNanos: cost.inputCostNanos,
            outputCostNanos: cost.outputCostNanos,
            totalCostNanos: cost.totalCostNanos,
            priced: cost.priced,
            priceSource: cost.priceSource,
          });
        }
      }
      if (updates.length > 0) changed += await this.store.updateCosts(updates);
      processed += records.length;
      options.onProgress?.({ processed, changed });
      const last = records[records.length - 1];
      after = { timestamp: last.timestamp, id: last.id };
      if (records.length < batchSize) break;
    }
    return { processed, changed };
  }

  /** Deletes raw records older than `before`; rollups keep matching what remains. */
  async pruneUsage(options: { before: Date | string; userId?: string }): Promise<{ removed: number }> {
    const before = resolveRange({ start: new Date("2000-01-01T00:00:00Z"), end: options.before }).end;
    return { removed: await this.store.prune(before, { userId: options.userId }) };
  }

  /** Recomputes every rollup from the raw records. */
  rebuildRollups(): Promise<void> {
    return this.store.rebuildRollups();
  }
}

const discard: RecordSink = { enqueue: () => undefined };

const defaultLogger: Logger = {
  warn: (m) => console.warn(`[token-tracking] ${m}`),
  error: (m) => console.error(`[token-tracking] ${m}`),
};

function isPricer(value: unknown): value is Pricer {
  return typeof (value as Pricer | undefined)?.price === "function";
}

/** Creates a service explicitly. */
export function createTokenMonitor(options: TokenMonitorOptions = {}): TokenMonitoringService {
  return new TokenMonitoringService(options);
}

let defaultMonitor: TokenMonitoringService | undefined;

/** The process-wide service, configured from the environment on first use. */
export function getTokenMonitor(): TokenMonitoringService {
  defaultMonitor ??= new TokenMonitoringService();
  return defaultMonitor;
}

/** Replaces (or clears) the process-wide service; the previous one is not closed. */
export function setTokenMonitor(monitor: TokenMonitoringService | undefined): void {
  defaultMonitor = monitor;
}
