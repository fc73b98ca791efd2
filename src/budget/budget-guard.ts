/**
 * `BudgetGuard`: admits or refuses model calls against limits shared by every process.
 *
 * Limits live in the store's settings (`limit-registry.ts`, re-read every 2 s).
 * Calendar windows count in shared store counters, served from a per-process lease
 * (`shared-tally.ts`): an admitted check costs no store round trip while the call's
 * estimate fits in the lease. Rolling windows count in this process
 * (`window-tally.ts`). Calls admitted hold their estimate until they end
 * (`reservations.ts`); settling replaces it with the real usage. Alerts and status
 * rows come from `budget-report.ts`.
 */
import { randomUUID } from "node:crypto";
import { BudgetExceededError, ValidationError, type BudgetExceededDetails } from "../errors.js";
import type { Pricer } from "../pricing/types.js";
import type { ResolvedRange } from "../query/range.js";
import { epochMsFromIso } from "../record/iso-time.js";
import type { UsageRecord } from "../record/types.js";
import type { AggregateRow, GroupKey, RecordFilter, UsageStore } from "../stores/types.js";
import type { Logger } from "../writer/buffered-writer.js";
import { AlertDispatcher, type AlertSinkOptions } from "./alerts.js";
import { AlertRaiser, exceededDetails, statusRow, type BudgetStatus } from "./budget-report.js";
import { BudgetGuardHandler, type BudgetGuardHandlerOptions } from "./guard-handler.js";
import { LimitRegistry } from "./limit-registry.js";
import type { BudgetLimit, BudgetLimitInput, BudgetMode } from "./limits.js";
import { pastUsage, pastUsageRows } from "./past-usage.js";
import { ReservationBook, SettledCalls, type EstimateOptions, type UsageAmount } from "./reservations.js";
import { isPerSubject, subjectFor, type CallContext } from "./scopes.js";
import { LeaseSync, SharedTally } from "./shared-tally.js";
import { TallyIndex } from "./tally-index.js";
import { unitsOf, type Tally } from "./tally.js";
import { WindowTally } from "./window-tally.js";

export type { BudgetStatus, BudgetState } from "./budget-report.js";

/** What the guard needs of a `TokenMonitoringService`. */
export interface BudgetMonitor {
  readonly store: UsageStore;
  readonly pricer: Pricer;
  aggregate(filter: RecordFilter & ResolvedRange, groupBy: GroupKey[]): Promise<AggregateRow[]>;
}

export interface BudgetGuardOptions extends AlertSinkOptions {
  monitor: BudgetMonitor;
  /** Limits from the environment or a config file; stored limits with the same id win. */
  limits?: Array<BudgetLimitInput | BudgetLimit>;
  /** Mode of limits that name none (also those set later through code, REST or the CLI). @default "warn" */
  defaultMode?: BudgetMode;
  /** False turns every check into "allowed" and records nothing. @default true */
  enabled?: boolean;
  /** The clock (tests move it). @default () => new Date() */
  now?: () => Date;
  estimate?: EstimateOptions;
  /** Reservations of calls that never ended are released after this long. @default 600000 */
  reservationTtlMs?: number;
  /** Settings namespace of stored limits. @default "budget-limits" */
  namespace?: string;
  /** Stored limits are re-read this often: a change made anywhere applies here within it. @default 2000 */
  limitRefreshMs?: number;
  /** Settled usage is reported to the shared counters this often. @default 250 */
  reportIntervalMs?: number;
}

export interface BudgetDecision {
  allowed: boolean;
  /** Block-mode limits that refuse the call. */
  exceeded: BudgetExceededDetails[];
  /** Warn-mode limits that are (or would be) over. */
  warnings: BudgetExceededDetails[];
}

export interface CheckOptions {
  provider?: string;
  model?: string;
  agentName?: string;
  dimensions?: Record<string, string>;
  /** The call's estimated usage; without it the check asks "is there any room left". */
  estimate?: UsageAmount;
  /** How the estimate was made (shown in refusals). */
  estimateBasis?: string;
}

export interface ReserveRequest extends CheckOptions {
  runId: string;
  userId: string;
}

const MAINTAIN_EVERY_MS = 60_000;
const SETTLED_TTL_MS = 10 * 60_000;
const ALLOWED: BudgetDecision = Object.freeze({ allowed: true, exceeded: [], warnings: [] }) as BudgetDecision;

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
  private readonly registry: LimitRegistry;
  private readonly tallies: TallyIndex;
  private readonly raiser: AlertRaiser;
  private readonly settled = new SettledCalls();
  private readonly reservationTtlMs: number;
  private readonly maintenance: NodeJS.Timeout;

  constructor(options: BudgetGuardOptions) {
    if (!options?.monitor) throw new ValidationError("monitor", "a BudgetGuard needs the TokenMonitoringService whose store it reads");
    this.monitor = options.monitor;
    this.enabled = options.enabled ?? true;
    this.clock = options.now ?? (() => new Date());
    this.logger = options.logger ?? { warn: (m) => console.warn(m), error: (m) => console.error(m) };
    const defaultMode = options.defaultMode ?? "warn";
    if (defaultMode !== "warn" && defaultMode !== "block") {
      throw new ValidationError("defaultMode", `must be "warn" or "block", got ${JSON.stringify(defaultMode)}`);
    }
    this.registry = new LimitRegistry({
      store: this.monitor.store,
      namespace: options.namespace ?? "budget-limits",
      defaultMode,
      logger: this.logger,
      limits: options.limits ?? [],
      refreshMs: options.limitRefreshMs ?? 2000,
      onChange: (ids) => this.tallies?.dropLimits(new Set(ids)),
    });
    this.alerts = new AlertDispatcher({ ...options, logger: this.logger });
    this.raiser = new AlertRaiser(this.monitor.store, this.alerts, this.logger);
    this.leases = new LeaseSync({
      store: this.monitor.store,
      logger: this.logger,
      clock: () => this.clock().getTime(),
      seed: (t) => pastUsage(this.monitor, t, t.window.start, t.window.end),
      onSynced: (t) => this.raiser.thresholds(t, t.used(), this.clock().getTime()),
      reportIntervalMs: options.reportIntervalMs,
    });
    this.tallies = new TallyIndex(randomUUID().slice(0, 12), this.leases);
    this.reservationTtlMs = options.reservationTtlMs ?? 600_000;
    this.estimateOptions = {
      charsPerToken: options.estimate?.charsPerToken ?? 4,
      defaultMaxOutputTokens: options.estimate?.defaultMaxOutputTokens ?? 1024,
    };
    if (!(this.estimateOptions.charsPerToken > 0)) throw new ValidationError("estimate.charsPerToken", "must be a positive number");
    if (!(this.estimateOptions.defaultMaxOutputTokens >= 0)) throw new ValidationError("estimate.defaultMaxOutputTokens", "must be zero or more");
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
    return (await this.admit(contextOf(userId, options), options, now)).decision;
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
    const { decision } = await this.admit(ctx, request, now, (tallies, at) =>
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
    const now = this.clock().getTime();
    if (actual.tokens !== 0 || actual.costNanos !== 0) this.settled.add(runId, { ...actual, ctx: r.ctx, at: r.at, settledAt: now });
    for (const { tally } of r.holds) {
      const units = unitsOf(tally.limit, actual);
      if (units === 0 || !tally.covers(r.at)) continue;
      tally.add(r.at, units, false);
      if (tally instanceof SharedTally) this.leases.track(tally);
      else if ((tally as WindowTally).seeded) this.raiser.thresholds(tally, tally.used(now), now);
    }
  }

  /** Releases a call's reservation without counting anything. */
  release(runId: string): void {
    this.reservations.release(runId);
  }

  /**
   * Records stored by the writer (pass this to `WriterOptions.onWritten`). A record
   * already counted by `settle` only adds its difference; records of calls no guard
   * saw are added to the running totals this process holds.
   */
  observe(records: readonly UsageRecord[], inserted = records.length): void {
    if (!this.enabled || inserted === 0) return;
    // No limit and no settled call to match: nothing to count (the default guard, every batch).
    if (this.registry.limits.length === 0 && this.settled.size === 0) return;
    const now = this.clock().getTime();
    for (const r of records) {
      const settled = this.settled.take(r.id);
      const amount = settled
        ? { tokens: r.totalTokens - settled.tokens, costNanos: r.totalCostNanos - settled.costNanos }
        : { tokens: r.totalTokens, costNanos: r.totalCostNanos };
      const at = epochMsFromIso(r.timestamp);
      const ctx: CallContext = { userId: r.userId, provider: r.provider, model: r.model, agentName: r.agentName ?? undefined, dimensions: r.dimensions };
      for (const limit of this.registry.forUser(r.userId, r.provider, false)) {
        const subject = subjectFor(limit, ctx);
        if (subject === undefined) continue;
        const t = this.tallies.peek(limit, subject, now);
        if (!t || !t.covers(at)) continue;
        const units = limit.metric === "requests" ? (settled ? 0 : 1) : unitsOf(limit, amount);
        if (units === 0) continue;
        if (t instanceof WindowTally) {
          // An unseeded rolling window reads this record with its seed.
          if (!t.seeded && t.seeding === null) continue;
          t.add(at, units);
          if (t.seeded && units > 0) this.raiser.thresholds(t, t.used(now), now);
        } else {
          t.add(at, units, true);
          this.leases.track(t as SharedTally);
        }
      }
    }
  }

  /**
   * Every limit that applies to `userId` (without it: the limits that count everyone,
   * a provider, or one named agent, model or dimension value), with its usage read
   * from the shared counters: every process reads the same. Never claims or sends alerts.
   */
  async getBudgetStatus(userId?: string, options: { provider?: string } = {}): Promise<BudgetStatus[]> {
    const now = this.clock().getTime();
    await this.registry.ensureLoaded(now);
    const rows: Array<{ t: Tally; used: number; inFlight: number }> = [];
    const shared: SharedTally[] = [];
    for (const limit of this.registry.forUser(userId, options.provider, options.provider === undefined)) {
      const subject = limit.scope === "user:*" ? userId! : isPerSubject(limit) ? undefined : "";
      if (subject === undefined) continue;
      const t = this.tallies.get(limit, subject, now);
      if (t instanceof SharedTally) shared.push(t);
      else {
        await this.seedRolling(t as WindowTally);
        rows.push({ t, used: t.used(now), inFlight: t.inFlight() });
      }
    }
    if (shared.length > 0) {
      // This process's own unreported usage goes first, so the counters are complete.
      await this.leases.flushDue();
      const states = await this.monitor.store.readBudgetCounters(shared.map((t) => ({ key: t.key, partition: t.partition })), now);
      for (const [i, t] of shared.entries()) {
        const s = states[i];
        // Other processes' calls in flight as they last reported them, this process's as they are now.
        const inFlight = (s ? Math.max(0, s.inFlight - (t.synced ? t.reportedInFlight : 0)) : 0) + t.held;
        rows.push({ t, used: s ? s.used : await pastUsage(this.monitor, t, t.window.start, t.window.end), inFlight });
      }
    }
    return rows.map(({ t, used, inFlight }) => statusRow(t, used, inFlight));
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

  private lastFailOpenReport = 0;

  /**
   * A check that could not read the store (limits kept there, past usage): the model call
   * goes ahead, because tracking must never break the agent. Reported at most once a minute.
   */
  failedOpen(error: unknown): void {
    const now = Date.now();
    if (now - this.lastFailOpenReport < 60_000) return;
    this.lastFailOpenReport = now;
    this.logger.warn(`[token-tracking] a budget check could not read the store, so the call was allowed: ${(error as Error)?.message ?? String(error)}`);
  }

  // ---- internals ----------------------------------------------------------------------

  /** The call's tallies, with every store read a decision needs done (none in the common case). */
  private async prepare(ctx: CallContext, estimate: UsageAmount | undefined, now: number): Promise<Tally[]> {
    if (!this.registry.loaded) await this.registry.ensureLoaded(now);
    else void this.registry.ensureLoaded(now);
    const limits = this.registry.forUser(ctx.userId, ctx.provider, false);
    const tallies: Tally[] = [];
    for (const limit of limits) {
      const subject = subjectFor(limit, ctx);
      if (subject !== undefined) tallies.push(this.tallies.get(limit, subject, now));
    }
    const est = estimate ?? { tokens: 0, costNanos: 0 };
    // Calls running alongside may take what one report brought: ask again while the
    // store's last answer says there is room (bounded, so contention cannot spin forever).
    for (let round = 0; round < 20; round++) {
      const at = round === 0 ? now : this.clock().getTime();
      const needs: Array<[SharedTally, number]> = [];
      const seeds: Promise<void>[] = [];
      for (const t of tallies) {
        if (t instanceof SharedTally) {
          t.lastActive = at;
          this.leases.touch(t);
          const amount = Math.max(1, unitsOf(t.limit, est));
          if (t.blocking && t.renewDue(at) && t.fits(amount, at)) this.leases.renew(t);
          if (!t.synced ? t.syncing === null || t.blocking : t.blocking && !t.fits(amount, at) && t.couldGet(amount) && t.failOpenUntil <= at) {
            needs.push([t, amount]);
          }
        } else if (!(t as WindowTally).seeded) seeds.push(this.seedRolling(t as WindowTally));
      }
      if (needs.length === 0 && seeds.length === 0) break;
      const demand = this.leases.demand(needs).catch((error) => {
        // Fail open: a store outage must not stop every model call.
        this.logger.warn(`[token-tracking] budget counters unavailable, call allowed: ${(error as Error).message}`);
        for (const [t] of needs) t.failOpenUntil = this.clock().getTime() + 1000;
      });
      // Warn-mode counters are read in the background: a warning never waits for the store.
      if (seeds.length === 0 && needs.every(([t]) => !t.blocking)) break;
      await Promise.all([demand, ...seeds]);
    }
    return tallies;
  }

  /**
   * Reads what the decision needs and decides. A refusal by a shared counter whose store
   * still had room (calls alongside took what the last report brought) is retried.
   */
  private async admit(
    ctx: CallContext,
    options: CheckOptions,
    now: number,
    hold?: (tallies: Tally[], at: number) => void,
  ): Promise<{ tallies: Tally[]; decision: BudgetDecision; at: number }> {
    const est = options.estimate ?? { tokens: 0, costNanos: 0 };
    for (let attempt = 0; ; attempt++) {
      const tallies = await this.prepare(ctx, options.estimate, attempt === 0 ? now : this.clock().getTime());
      const at = this.clock().getTime();
      const decision = this.decide(tallies, options, at, false);
      const retry =
        !decision.allowed &&
        attempt < 20 &&
        tallies.some((t) => {
          const amount = Math.max(1, unitsOf(t.limit, est));
          return t instanceof SharedTally && t.blocking && !t.fits(amount, at) && t.couldGet(amount);
        });
      if (retry) continue;
      if (decision.allowed) hold?.(tallies, at);
      return { tallies, decision: decision.allowed ? decision : this.decide(tallies, options, at, true), at };
    }
  }

  private decide(tallies: Tally[], options: CheckOptions, now: number, final: boolean): BudgetDecision {
    let decision: BudgetDecision | null = null;
    for (const t of tallies) {
      const need = unitsOf(t.limit, options.estimate ?? { tokens: 0, costNanos: 0 });
      let ok: boolean;
      if (t instanceof SharedTally && t.blocking && t.failOpenUntil <= now) ok = t.fits(Math.max(1, need), now);
      else {
        const committed = t.used(now) + t.inFlight();
        // Refused when nothing is left, or when this call's estimate does not fit.
        ok = (committed < t.limitAmount && committed + need <= t.limitAmount) || (t instanceof SharedTally && t.failOpenUntil > now);
      }
      if (ok) continue;
      decision ??= { allowed: true, exceeded: [], warnings: [] };
      const details = exceededDetails(t, now, need, options.estimateBasis);
      if (t.limit.mode === "block") {
        decision.allowed = false;
        decision.exceeded.push(details);
        if (final) this.raiser.refusal(t, t.used(now), now);
      } else decision.warnings.push(details);
    }
    return decision ?? ALLOWED;
  }

  private seedRolling(t: WindowTally): Promise<void> {
    t.seeding ??= (async () => {
      const seq = this.settled.seq;
      const now = this.clock().getTime();
      const start = Math.floor(t.window.start / 60_000) * 60_000;
      const byHour = await pastUsageRows(this.monitor, t, start, now + 60_000, true);
      for (const { at, units } of byHour) t.add(at, units);
      for (const c of this.settled.before(seq)) {
        if (subjectFor(t.limit, c.ctx) === t.subject && t.covers(c.at)) t.add(c.at, unitsOf(t.limit, c));
      }
      // No alert here: status reads seed too, and reading status never claims alerts.
      t.seeded = true;
    })().catch((error) => {
      // Fail open: a store outage must not stop every model call; the next check retries.
      t.seeding = null;
      this.logger.warn(`[token-tracking] budget "${t.limit.id}" could not read past usage: ${(error as Error).message}`);
    });
    return t.seeding;
  }

  /** Releases calls that never ended and idle rolling windows; runs on a timer, off the call path. */
  private maintain(): void {
    const now = this.clock().getTime();
    this.tallies.sweepRolling(now);
    const expired = this.reservations.expire(now - this.reservationTtlMs);
    if (expired > 0) this.logger.warn(`[token-tracking] released ${expired} budget reservations of calls that never ended`);
    this.settled.expire(now - SETTLED_TTL_MS);
  }
}

function contextOf(userId: string, o: CheckOptions): CallContext {
  return { userId, provider: o.provider, model: o.model, agentName: o.agentName, dimensions: o.dimensions };
}
