/**
 * OpenTelemetry metrics for stored usage records. It listens where the writer reports a
 * durable write (`WriterOptions.onWritten`), in the background, so the agent's path is
 * unchanged and only records the store accepted are reported.
 *
 * As instrumentation libraries do, it reports to the global MeterProvider of
 * `@opentelemetry/api` (or the one passed in). Without the API installed, or with no SDK
 * registered (the API's no-op provider), a written batch costs one provider lookup and
 * nothing per record. A provider registered later is picked up at the next write.
 * Metrics are best effort: the store stays the record of truth.
 */
import type { Meter, MeterProvider } from "@opentelemetry/api";
import type { UsageRecord } from "../record/types.js";
import type { Logger } from "../writer/buffered-writer.js";
import type { TelemetryAttributeOptions } from "./attributes.js";
import { registerBudgetGauges, type BudgetStatusSource } from "./budget-gauges.js";
import { loadOtelApi, type OtelApi } from "./load-api.js";
import { UsageInstruments } from "./usage-instruments.js";

export interface TelemetryOptions {
  /** Where metrics go. @default the global MeterProvider of `@opentelemetry/api` */
  meterProvider?: MeterProvider;
  /** Opt-in identity attributes (cardinality: see the README). @default none */
  attributes?: TelemetryAttributeOptions;
  logger?: Logger;
  /** Replaces `import("@opentelemetry/api")` (tests of a missing package). */
  importApi?: () => Promise<OtelApi>;
}

/** The instrumentation scope name metrics are reported under. */
export const METER_NAME = "langchain-token-tracking";
/** Ids remembered to recognise a record reported before (a replayed `trackUsage` id). */
const SEEN_IDS = 10_000;
/** Records reported per event-loop turn. */
const SLICE = 100;
/** Records waiting to be reported beyond this are dropped, oldest first (and logged). */
const MAX_QUEUED = 100_000;
const INT = 0; // ValueType.INT of @opentelemetry/api (a stable enum), usable before the API loads

export class UsageTelemetry {
  private api: OtelApi | null = null;
  private readonly loading: Promise<void> | null;
  /** The optional API was looked for (or is not needed: a provider was passed). */
  private settled: boolean;
  private meter: Meter | null = null;
  private provider: MeterProvider | null = null;
  private instruments: UsageInstruments | null = null;
  private noop = false;
  private budget: BudgetStatusSource | null = null;
  private removeGauges: (() => void) | null = null;
  private readonly seen = new Set<string>();
  private readonly queue: UsageRecord[] = [];
  private draining = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: TelemetryOptions = {}) {
    this.settled = options.meterProvider !== undefined;
    this.loading = options.meterProvider
      ? null
      : loadOtelApi(options.importApi).then((api) => {
          this.api = api;
          this.settled = true;
          try {
            this.resolve(); // gauges exist from the start, not from the first write
          } catch (error) {
            this.fail(error);
          }
        });
  }

  /** Resolves once the optional API was looked for (tests; nothing needs to wait for it). */
  async ready(): Promise<void> {
    await this.loading;
  }

  /**
   * The `onWritten` listener: queues the records a store write inserted. They are reported
   * in slices of `SLICE`, one slice per event-loop turn: with an SDK, recording costs tens
   * of microseconds per record, and a large batch must not hold the loop for its total.
   */
  readonly onWritten = (records: readonly UsageRecord[], inserted: number): void => {
    // Never throws: the budget guard listens on the same hook, after this.
    try {
      this.enqueue(records, inserted);
    } catch (error) {
      this.fail(error);
    }
  };

  private enqueue(records: readonly UsageRecord[], inserted: number): void {
    if (inserted === 0) return;
    if (this.settled && !this.resolve()) return; // nothing to report to: no work per record
    // A batch with duplicates held records already stored: skip those this process reported.
    const partial = inserted < records.length;
    for (const r of records) {
      if (partial && this.seen.has(r.id)) continue;
      this.remember(r.id);
      this.queue.push(r);
    }
    if (this.queue.length > MAX_QUEUED) {
      const dropped = this.queue.splice(0, this.queue.length - MAX_QUEUED).length;
      this.options.logger?.warn(`OpenTelemetry metrics fell behind; ${dropped} records not reported (the store has them)`);
    }
    this.drain();
  }

  /** Resolves once every queued record was reported. */
  idle(): Promise<void> {
    if (!this.draining && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** True when records are being reported to a real (non no-op) MeterProvider. */
  get reporting(): boolean {
    return this.instruments !== null && !this.noop;
  }

  /** Reports the budget guard's shared limits as observable gauges. */
  observeBudget(source: BudgetStatusSource): void {
    this.budget = source;
    if (this.instruments && !this.noop) this.registerGauges(this.meter!);
  }

  /** Removes the budget gauges (the monitor closes). */
  close(): void {
    this.removeGauges?.();
    this.removeGauges = null;
    this.budget = null;
  }

  private drain(): void {
    if (this.draining) return;
    if (!this.settled) {
      // Only the first writes of a process can arrive before the import settles.
      this.draining = true;
      void this.loading!.then(() => this.continueDrain());
      return;
    }
    const instruments = this.resolve();
    const slice = this.queue.splice(0, SLICE);
    if (instruments) {
      let failed = 0;
      let lastError: unknown;
      for (const r of slice) {
        try {
          instruments.report(r);
        } catch (error) {
          failed++;
          lastError = error;
        }
      }
      // One line per slice, not per record: a broken instrument must not flood the log.
      if (failed > 0) this.options.logger?.warn(`OpenTelemetry metrics failed for ${failed} records: ${(lastError as Error)?.message ?? String(lastError)}`);
    } else this.queue.length = 0;
    if (this.queue.length > 0) {
      this.draining = true;
      setImmediate(() => this.continueDrain());
      return;
    }
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private continueDrain(): void {
    this.draining = false;
    try {
      this.drain();
    } catch (error) {
      this.fail(error);
    }
  }

  /** A broken MeterProvider loses these metrics, never a record and never the budget's view. */
  private fail(error: unknown): void {
    this.queue.length = 0;
    this.draining = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
    this.options.logger?.warn(`OpenTelemetry metrics failed: ${(error as Error)?.message ?? String(error)}`);
  }

  /** The instruments for the current provider, or null when there is nothing to report to. */
  private resolve(): UsageInstruments | null {
    const provider = this.options.meterProvider ?? this.api?.metrics.getMeterProvider() ?? null;
    if (provider !== this.provider) {
      this.removeGauges?.();
      this.removeGauges = null;
      this.provider = provider;
      this.instruments = null;
      if (provider) {
        this.meter = provider.getMeter(METER_NAME);
        this.instruments = new UsageInstruments(this.meter, this.options.attributes ?? {}, INT);
        this.noop = this.api ? this.instruments.isNoop(this.api.createNoopMeter().createHistogram("probe")) : false;
        if (!this.noop && this.budget) this.registerGauges(this.meter);
      }
    }
    return this.noop ? null : this.instruments;
  }

  private registerGauges(meter: Meter): void {
    this.removeGauges?.();
    this.removeGauges = registerBudgetGauges(meter, this.budget!, (error) =>
      this.options.logger?.warn(`budget gauges not observed: ${(error as Error)?.message ?? String(error)}`),
    );
  }

  private remember(id: string): void {
    this.seen.add(id);
    if (this.seen.size > SEEN_IDS) this.seen.delete(this.seen.values().next().value as string);
  }
}
