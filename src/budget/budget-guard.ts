/**
 * `BudgetGuard`: admits or refuses model calls against limits shared by every process.
 *
 * Limits live in the store's settings (`limit-registry.ts`, re-read every 2 s).
 * Calendar and rolling windows count in shared store counters, served from a
 * per-process lease (`shared-tally.ts`, `lease-sync.ts`, `rolling-buckets.ts`): an
 * admitted check costs no store round trip while the call's estimate fits in the
 * lease. Calls admitted hold their estimate until they end
 * (`reservations.ts`); settling replaces it with the real usage. Alerts and status
 * rows come from `budget-report.ts`.
 */
import { randomUUID } from "node:crypto";
import { BudgetExceededError, ValidationError } from "../errors.js";
import type { Pricer } from "../pricing/types.js";
import { epochMsFromIso } from "../record/iso-time.js";
import type { UsageRecord } from "../record/types.js";
import type { Logger } from "../writer/buffered-writer.js";
import { Admission } from "./admission.js";
import { AlertDispatcher } from "./alerts.js";
import { AlertRaiser, type BudgetStatus } from "./budget-report.js";
import { readBudgetStatus } from "./budget-status.js";
import { BudgetGuardHandler, type BudgetGuardHandlerOptions } from "./guard-handler.js";
import { ALLOWED, contextOf, type BudgetDecision, type BudgetGuardOptions, type BudgetMonitor, type CheckOptions, type ReserveRequest } from "./guard-types.js";
import { LeaseSync } from "./lease-sync.js";
import { LimitRegistry } from "./limit-registry.js";
import type { BudgetLimit, BudgetLimitInput } from "./limits.js";
import { seedUsage } from "./past-usage.js";
import { CountedCalls } from "./counted-calls.js";
import { ReservationBook, type EstimateOptions, type UsageAmount } from "./reservations.js";
import { subjectFor, type CallContext } from "./scopes.js";
import { SharedTally } from "./shared-tally.js";
import { troubleLogger } from "./store-trouble-log.js";
import { TallyIndex } from "./tally-index.js";
import { unitsAdded, unitsOf } from "./tally.js";

export type { BudgetStatus, BudgetState } from "./budget-report.js";
export type { BudgetMonitor, BudgetGuardOptions, BudgetDecision, CheckOptions, ReserveRequest } from "./guard-types.js";

const MAINTAIN_EVERY_MS = 60_000;
const SETTLED_TTL_MS = 10 * 60_000;

export class BudgetGuard {
  readonly enabled: boolean;
  readonly alerts: AlertDispatcher;
  readonly reservations = new ReservationBook();
  readonly estimateOptions: Required<EstimateOptions>;
  /** Store round trips made for shared counters (benchmarks, tests). */
  readonly leases: LeaseSync;
  private readonly monitor: BudgetMonitor;
  private readonly clock: () => Date;
  private readonly logger: Logger;
  /** Store trouble (limits, counters, leases): each kind at most once a minute. */
  private readonly trouble: Logger;
  private readonly registry: LimitRegistry;
  private readonly tallies: TallyIndex;
  private readonly raiser: AlertRaiser;
  private readonly admission: Admission;
  /** What settles and stored records already counted of each call (see counted-calls.ts). */
  private readonly counted = new CountedCalls();
  private readonly reservationTtlMs: number;
  private readonly maintenance: NodeJS.Timeout;
  private forgottenReported = 0;

  constructor(options: BudgetGuardOptions) {
    if (!options?.monitor) throw new ValidationError("monitor", "a BudgetGuard needs the TokenMonitoringService whose store it reads");
    this.monitor = options.monitor;
    this.enabled = options.enabled ?? true;
    this.clock = options.now ?? (() => new Date());
    this.logger = options.logger ?? { warn: (m) => console.warn(m), error: (m) => console.error(m) };
    this.trouble = troubleLogger(this.logger);
    const defaultMode = options.defaultMode ?? "warn";
    if (defaultMode !== "warn" && defaultMode !== "block") {
      throw new ValidationError("defaultMode", `must be "warn" or "block", got ${JSON.stringify(defaultMode)}`);
    }
    this.registry = new LimitRegistry({
      store: this.monitor.store,
      namespace: options.namespace ?? "budget-limits",
      defaultMode,
      logger: this.trouble,
      limits: options.limits ?? [],
      refreshMs: options.limitRefreshMs ?? 2000,
      onChange: (ids) => this.tallies?.dropLimits(new Set(ids)),
    });
    this.alerts = new AlertDispatcher({ ...options, logger: this.logger });
    this.raiser = new AlertRaiser(this.monitor.store, this.alerts, this.logger);
    this.leases = new LeaseSync({
      store: this.monitor.store,
      logger: this.trouble,
      clock: () => this.clock().getTime(),
      seed: (t) => seedUsage(this.monitor, t, this.clock().getTime()),
      onSynced: (t) => {
        const now = this.clock().getTime();
        this.raiser.thresholds(t, t.used(now), now);
      },
      reportIntervalMs: options.reportIntervalMs,
    });
    this.tallies = new TallyIndex(randomUUID().slice(0, 12));
    this.reservationTtlMs = options.reservationTtlMs ?? 600_000;
    this.estimateOptions = {
      charsPerToken: options.estimate?.charsPerToken ?? 4,
      defaultMaxOutputTokens: options.estimate?.defaultMaxOutputTokens ?? 1024,
    };
    if (!(this.estimateOptions.charsPerToken > 0)) throw new ValidationError("estimate.charsPerToken", "must be a positive number");
    if (!(this.estimateOptions.defaultMaxOutputTokens >= 0)) throw new ValidationError("estimate.defaultMaxOutputTokens", "must be zero or more");
    this.admission = new Admission({
      registry: this.registry,
      tallies: this.tallies,
      leases: this.leases,
      raiser: this.raiser,
      logger: this.trouble,
      clock: () => this.clock().getTime(),
    });
    this.maintenance = setInterval(() => this.maintain(), MAINTAIN_EVERY_MS);
    this.maintenance.unref();
  }

  get pricer(): Pricer {
    return this.monitor.pricer;
  }

  // ---- limits -------------------------------------------------------------------------

  /** Adds or replaces a limit (kept in the store) and returns it as stored (a missing mode is the configured one). */
  async setLimit(input: BudgetLimitInput): Promise<BudgetLimit> {
    const limit = this.registry.normalize(input);
    await this.registry.set(limit);
    return limit;
  }

  /** Removes a limit; one from the environment or a file is masked in the store. */
  async removeLimit(id: string): Promise<boolean> {
    return this.registry.remove(id);
  }

  async listLimits(): Promise<BudgetLimit[]> {
    await this.registry.ensureLoaded(this.clock().getTime());
    return this.registry.limits.map((l) => ({ ...l }));
  }

  /** Re-reads stored limits now (they are re-read every `limitRefreshMs` anyway). */
  async refreshLimits(): Promise<void> {
    await this.registry.reload(this.clock().getTime());
  }

  // ---- checks -------------------------------------------------------------------------

  /** Whether a call of `userId` may start now (nothing is held). */
  async check(userId: string, options: CheckOptions = {}): Promise<BudgetDecision> {
    if (!this.enabled) return ALLOWED;
    const now = this.clock().getTime();
    return (await this.admission.admit(contextOf(userId, options), options, now)).decision;
  }

  /**
   * Checks and, when allowed, holds the estimate until `settle`/`release` of the same
   * run id. In block mode a refused call throws BudgetExceededError.
   */
  async reserve(request: ReserveRequest): Promise<BudgetDecision> {
    if (!this.enabled) return ALLOWED;
    const now = this.clock().getTime();
    const ctx = contextOf(request.userId, request);
    const estimate = request.estimate ?? { tokens: 0, costNanos: 0 };
    const { decision } = await this.admission.admit(ctx, request, now, (tallies, at) =>
      // Called synchronously with the decision: concurrent reservations see each other.
      this.reservations.add({ runId: request.runId, ctx, at, createdAt: at, holds: tallies.map((t) => ({ tally: t, amount: unitsOf(t.limit, estimate) })) }),
    );
    for (const w of decision.warnings) this.logger.warn(`[token-tracking] ${new BudgetExceededError(w).message} (warn mode: call allowed)`);
    if (!decision.allowed) throw new BudgetExceededError(decision.exceeded[0]);
    return decision;
  }

  /** Ends a reserved call with its real usage (null: it used nothing, e.g. a cache hit). */
  settle(runId: string, actual: UsageAmount | null): void {
    const r = this.reservations.release(runId);
    if (!r || !actual) return;
    // Its record may have been stored (and counted) already: then only the difference counts.
    const recorded = this.counted.take(runId, "record");
    if (!recorded) this.counted.add(runId, { by: "settle", tokens: actual.tokens, costNanos: actual.costNanos, at: this.clock().getTime() });
    const amount = recorded ? { tokens: actual.tokens - recorded.tokens, costNanos: actual.costNanos - recorded.costNanos } : actual;
    for (const { tally } of r.holds) {
      const units = unitsAdded(tally.limit, amount, recorded !== undefined);
      if (units === 0 || !tally.covers(r.at)) continue;
      tally.add(r.at, units, false);
      this.leases.track(tally as SharedTally);
    }
  }

  /** Releases a call's reservation without counting anything. */
  release(runId: string): void {
    this.reservations.release(runId);
  }

  /**
   * Records stored by the writer (pass this to `WriterOptions.onWritten`). A record
   * already counted by `settle` only adds its difference; a record of a call no guard
   * saw is added to the shared counter of every limit it falls under (the counter is
   * created from the stored records, this one among them, if none exists yet).
   */
  observe(records: readonly UsageRecord[], inserted = records.length): void {
    if (!this.enabled || inserted === 0) return;
    // No limit and no settled call to match: nothing to count (the default guard, every batch).
    if (this.registry.limits.length === 0 && this.counted.size === 0) return;
    const now = this.clock().getTime();
    for (const r of records) {
      const settled = this.counted.take(r.id, "settle");
      // A call still holding its reservation settles later: it then adds only its difference.
      if (!settled && this.reservations.has(r.id)) this.counted.add(r.id, { by: "record", tokens: r.totalTokens, costNanos: r.totalCostNanos, at: now });
      const amount = settled
        ? { tokens: r.totalTokens - settled.tokens, costNanos: r.totalCostNanos - settled.costNanos }
        : { tokens: r.totalTokens, costNanos: r.totalCostNanos };
      const at = epochMsFromIso(r.timestamp);
      const ctx: CallContext = { userId: r.userId, provider: r.provider, model: r.model, agentName: r.agentName ?? undefined, dimensions: r.dimensions };
      for (const limit of this.registry.forUser(r.userId, r.provider, false)) {
        const subject = subjectFor(limit, ctx);
        if (subject === undefined) continue;
        // A call no check of this process saw (tracked without enforcement) still spent the
        // budget: its record counts in the shared counter even when no tally is held here.
        const t = this.tallies.peek(limit, subject, now) ?? this.tallies.get(limit, subject, now);
        if (!t.covers(at)) continue;
        const units = unitsAdded(limit, amount, settled !== undefined);
        if (units === 0) continue;
        t.add(at, units, true);
        t.lastActive = now;
        this.leases.track(t);
      }
    }
  }

  /**
   * Every limit that applies to `userId` (without it: the limits that count everyone,
   * a provider, or one named agent, model or dimension value), with its usage read
   * from the shared counters: every process reads the same. Never claims or sends alerts.
   */
  async getBudgetStatus(userId?: string, options: { provider?: string } = {}): Promise<BudgetStatus[]> {
    const deps = { monitor: this.monitor, registry: this.registry, tallies: this.tallies, leases: this.leases };
    return readBudgetStatus(deps, this.clock().getTime(), userId, options.provider);
  }

  createHandler(defaults: BudgetGuardHandlerOptions = {}): BudgetGuardHandler {
    return new BudgetGuardHandler(this, defaults);
  }

  /** Reports settled usage to the shared counters now. */
  async flushUsage(): Promise<void> {
    await this.leases.flushDue();
  }

  /** Resolves once queued alerts were claimed and delivered or dropped. */
  async flushAlerts(): Promise<void> {
    await this.leases.flushDue();
    await this.raiser.idle();
    // Sinks run one microtask after the claim.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.alerts.idle();
  }

  /** Reports what is unreported, gives every lease back and stops the timers. */
  async close(): Promise<void> {
    clearInterval(this.maintenance);
    this.leases.stop();
    this.alerts.close();
    await this.leases.flush(true).catch(() => undefined);
  }

  /**
   * A check that could not read the store (limits kept there, past usage): the model call
   * goes ahead, because tracking must never break the agent. Reported at most once a minute.
   */
  failedOpen(error: unknown): void {
    this.trouble.warn(`[token-tracking] a budget check could not read the store, so the call was allowed: ${(error as Error)?.message ?? String(error)}`);
  }

  // ---- internals ----------------------------------------------------------------------

  /** Releases calls that never ended and idle rolling windows' tallies; runs on a timer, off the call path. */
  private maintain(): void {
    const now = this.clock().getTime();
    this.tallies.sweepRolling(now);
    const expired = this.reservations.expire(now - this.reservationTtlMs);
    if (expired > 0) this.logger.warn(`[token-tracking] released ${expired} budget reservations of calls that never ended`);
    // A record held back (a failing store, the spill journal) may still come for any settled call.
    if (!this.monitor.writer?.holdingBack) this.counted.expire(now - SETTLED_TTL_MS);
    if (this.counted.forgotten > this.forgottenReported) {
      this.logger.warn(
        `[token-tracking] budget: ${this.counted.forgotten - this.forgottenReported} settled calls were forgotten before their records were stored ` +
          "(too many waiting); those records count again when they arrive, which only makes the budgets stricter",
      );
      this.forgottenReported = this.counted.forgotten;
    }
  }
}
