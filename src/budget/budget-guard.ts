/**
 * `BudgetGuard`: limits kept in the store's settings, checked in memory.
 *
 * A check reads running totals per (limit, subject, period window). Each total is
 * seeded once per window from the monitor's aggregates (rollup-backed) and then
 * kept current from finished calls (`settle`) and written records (`observe`, fed
 * by the writer's `onWritten`), so no check scans raw records. Calls admitted in
 * block mode hold a reservation until they end (see `reservations.ts` for the
 * overshoot bound). Alerts fire once per threshold per window, deduplicated through
 * the store's `claimOnce`, so a restart does not repeat them.
 */
import { BudgetExceededError, ValidationError, type BudgetExceededDetails } from "../errors.js";
import type { Pricer } from "../pricing/types.js";
import type { ResolvedRange } from "../query/range.js";
import type { UsageRecord } from "../record/types.js";
import type { AggregateRow, GroupKey, RecordFilter, UsageStore } from "../stores/types.js";
import type { Logger } from "../writer/buffered-writer.js";
import { AlertDispatcher, alertLevel, type AlertSinkOptions, type BudgetAlert } from "./alerts.js";
import { applicableLimits, normalizeLimit, type BudgetLimit, type BudgetLimitInput, type BudgetMode, type BudgetPeriod } from "./limits.js";
import { BudgetGuardHandler, type BudgetGuardHandlerOptions } from "./guard-handler.js";
import { ReservationBook, SettledCalls, type EstimateOptions, type UsageAmount } from "./reservations.js";
import { toDisplay, WindowTally } from "./window-tally.js";

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
  /** Mode of limits that name none. @default "warn" */
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
}

export type BudgetState = "ok" | "warning" | "critical" | "exceeded";

export interface BudgetStatus {
  limitId: string;
  scope: string;
  metric: "tokens" | "cost";
  mode: BudgetMode;
  period: BudgetPeriod;
  timeZone: string;
  resetTime: string;
  /** Tokens, or USD for cost limits. */
  limit: number;
  used: number;
  /** Held by calls in flight. */
  reserved: number;
  remaining: number;
  /** used / limit (1 = exhausted); 0 for a zero limit with nothing used. */
  percent: number;
  periodStart: string;
  resetsAt: string | null;
  state: BudgetState;
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
  /** The call's estimated usage; without it the check asks "is there any room left". */
  estimate?: UsageAmount;
}

export interface ReserveRequest extends CheckOptions {
  runId: string;
  userId: string;
}

const STORE_NAMESPACE = "budget-limits";
const ALERT_NAMESPACE = "budget-alerts";
const SWEEP_EVERY_MS = 60_000;
const SETTLED_TTL_MS = 10 * 60_000;

interface Tombstone {
  removed: true;
}

export class BudgetGuard {
  readonly enabled: boolean;
  readonly alerts: AlertDispatcher;
  private readonly monitor: BudgetMonitor;
  private readonly clock: () => Date;
  private readonly logger: Logger;
  private readonly namespace: string;
  private readonly defaultMode: BudgetMode;
  private readonly staticLimits = new Map<string, BudgetLimit>();
  private stored = new Map<string, BudgetLimit | Tombstone>();
  private limits: BudgetLimit[] = [];
  private loading: Promise<void> | null = null;
  private loaded = false;
  private generation = 0;
  private readonly applicable = new Map<string, { generation: number; limits: BudgetLimit[] }>();
  private readonly tallies = new Map<string, WindowTally>();
  /** Tallies of `user:*` / `user:<id>` limits by user, and the rest, to route records quickly. */
  private readonly userTallies = new Map<string, Set<WindowTally>>();
  private readonly sharedTallies = new Set<WindowTally>();
  readonly reservations = new ReservationBook();
  private readonly settled = new SettledCalls();
  private readonly reservationTtlMs: number;
  private lastSweep = 0;
  private readonly pendingClaims = new Set<Promise<void>>();
  readonly estimateOptions: Required<EstimateOptions>;

  constructor(options: BudgetGuardOptions) {
    if (!options?.monitor) throw new ValidationError("monitor", "a BudgetGuard needs the TokenMonitoringService whose store it reads");
    this.monitor = options.monitor;
    this.enabled = options.enabled ?? true;
    this.clock = options.now ?? (() => new Date());
    this.logger = options.logger ?? { warn: (m) => console.warn(m), error: (m) => console.error(m) };
    this.namespace = options.namespace ?? STORE_NAMESPACE;
    this.defaultMode = options.defaultMode ?? "warn";
    if (this.defaultMode !== "warn" && this.defaultMode !== "block") {
      throw new ValidationError("defaultMode", `must be "warn" or "block", got ${JSON.stringify(this.defaultMode)}`);
    }
    (options.limits ?? []).forEach((l, i) => {
      const limit = normalizeLimit(l, `limits[${i}]`, { mode: this.defaultMode });
      this.staticLimits.set(limit.id, limit);
    });
    this.alerts = new AlertDispatcher({ ...options, logger: this.logger });
    this.reservationTtlMs = options.reservationTtlMs ?? 600_000;
    this.estimateOptions = {
      charsPerToken: options.estimate?.charsPerToken ?? 4,
      defaultMaxOutputTokens: options.estimate?.defaultMaxOutputTokens ?? 1024,
    };
    if (!(this.estimateOptions.charsPerToken > 0)) throw new ValidationError("estimate.charsPerToken", "must be a positive number");
    if (!(this.estimateOptions.defaultMaxOutputTokens >= 0)) throw new ValidationError("estimate.defaultMaxOutputTokens", "must be zero or more");
    this.merge();
  }

  get pricer(): Pricer {
    return this.monitor.pricer;
  }

  // ---- limits -------------------------------------------------------------------------

  /** Adds or replaces a limit (kept in the store) and returns it with its defaults. */
  async setLimit(input: BudgetLimitInput): Promise<BudgetLimit> {
    const limit = normalizeLimit(input, "", { mode: this.defaultMode });
    await this.ensureLoaded();
    await this.monitor.store.putSetting(this.namespace, limit.id, limit);
    this.stored.set(limit.id, limit);
    this.merge(limit.id);
    return limit;
  }

  /** Removes a limit; one from the environment or a file is masked in the store. */
  async removeLimit(id: string): Promise<boolean> {
    if (typeof id !== "string" || id === "") throw new ValidationError("id", "must be a non-empty string");
    await this.ensureLoaded();
    const existed = this.limits.some((l) => l.id === id);
    if (this.staticLimits.has(id)) {
      await this.monitor.store.putSetting(this.namespace, id, { removed: true } satisfies Tombstone);
      this.stored.set(id, { removed: true });
    } else {
      await this.monitor.store.deleteSetting(this.namespace, id);
      this.stored.delete(id);
    }
    this.merge(id);
    return existed;
  }

  async listLimits(): Promise<BudgetLimit[]> {
    await this.ensureLoaded();
    return this.limits.map((l) => ({ ...l }));
  }

  /** Re-reads stored limits (another process may have changed them). */
  async refreshLimits(): Promise<void> {
    this.loading = null;
    this.loaded = false;
    await this.ensureLoaded();
  }

  private ensureLoaded(): Promise<void> {
    this.loading ??= this.monitor.store.listSettings<unknown>(this.namespace).then(
      (rows) => {
        const stored = new Map<string, BudgetLimit | Tombstone>();
        for (const { key, value } of rows) {
          if ((value as Tombstone)?.removed === true) stored.set(key, { removed: true });
          else {
            try {
              const limit = normalizeLimit(value, `${this.namespace}.${key}`, { mode: this.defaultMode });
              const previous = this.stored.get(key);
              // An unchanged limit keeps its object, so its running totals and reservations stay.
              stored.set(key, previous && JSON.stringify(previous) === JSON.stringify(limit) ? previous : limit);
            } catch (error) {
              this.logger.warn(`[token-tracking] ignoring stored budget limit: ${(error as Error).message}`);
            }
          }
        }
        const changed = [...new Set([...stored.keys(), ...this.stored.keys()])].filter(
          (id) => JSON.stringify(stored.get(id)) !== JSON.stringify(this.stored.get(id)),
        );
        this.stored = stored;
        for (const id of changed) this.dropTallies(id);
        this.merge();
        this.loaded = true;
      },
      (error) => {
        this.loading = null;
        throw error;
      },
    );
    return this.loading;
  }

  private merge(changedId?: string): void {
    const byId = new Map(this.staticLimits);
    for (const [id, v] of this.stored) {
      if ("removed" in v) byId.delete(id);
      else byId.set(id, v);
    }
    this.limits = [...byId.values()];
    this.generation++;
    if (changedId !== undefined) this.dropTallies(changedId);
  }

  private dropTallies(limitId: string): void {
    for (const [key, t] of this.tallies) if (t.limit.id === limitId) this.forget(key, t);
  }

  // ---- checks -------------------------------------------------------------------------

  /** Whether a call of `userId` may start now (no reservation is made). */
  async check(userId: string, options: CheckOptions = {}): Promise<BudgetDecision> {
    if (!this.enabled) return { allowed: true, exceeded: [], warnings: [] };
    const now = this.clock().getTime();
    const tallies = await this.talliesFor(userId, options.provider, now, false);
    return this.decide(tallies, options.estimate, now);
  }

  /**
   * Checks and, when allowed, holds the estimate until `settle`/`release` of the same
   * run id. In block mode a refused call throws BudgetExceededError.
   */
  async reserve(request: ReserveRequest): Promise<BudgetDecision> {
    if (!this.enabled) return { allowed: true, exceeded: [], warnings: [] };
    const now = this.clock().getTime();
    this.sweep(now);
    const tallies = await this.talliesFor(request.userId, request.provider, now, false);
    // From here to `add` nothing awaits: concurrent reservations see each other.
    const at = this.clock().getTime();
    const decision = this.decide(tallies, request.estimate, at);
    for (const w of decision.warnings) this.logger.warn(`[token-tracking] ${new BudgetExceededError(w).message} (warn mode: call allowed)`);
    if (!decision.allowed) throw new BudgetExceededError(decision.exceeded[0]);
    const estimate = request.estimate ?? { tokens: 0, costNanos: 0 };
    this.reservations.add({
      runId: request.runId,
      userId: request.userId,
      provider: request.provider,
      at,
      createdAt: at,
      holds: tallies.map((t) => ({ tally: t, amount: t.limit.metric === "cost" ? estimate.costNanos : estimate.tokens })),
    });
    return decision;
  }

  /** Ends a reserved call with its real usage (null: it used nothing, e.g. it failed). */
  settle(runId: string, actual: UsageAmount | null): void {
    const r = this.reservations.release(runId);
    if (!r || !actual || (actual.tokens === 0 && actual.costNanos === 0)) return;
    const now = this.clock().getTime();
    const call = this.settled.add(runId, { ...actual, userId: r.userId, provider: r.provider, at: r.at, settledAt: now });
    this.apply(call.userId, call.provider, call.at, actual, now);
  }

  /** Releases a call's reservation without counting anything. */
  release(runId: string): void {
    this.reservations.release(runId);
  }

  /**
   * Records stored by the writer (pass this to `WriterOptions.onWritten`). A record
   * already counted by `settle` only adds its difference.
   */
  observe(records: readonly UsageRecord[], inserted = records.length): void {
    if (!this.enabled || inserted === 0) return;
    const now = this.clock().getTime();
    for (const r of records) {
      const settled = this.settled.take(r.id);
      const amount = settled
        ? { tokens: r.totalTokens - settled.tokens, costNanos: r.totalCostNanos - settled.costNanos }
        : { tokens: r.totalTokens, costNanos: r.totalCostNanos };
      this.apply(r.userId, r.provider, Date.parse(r.timestamp), amount, now);
    }
  }

  /** Every limit that applies to `userId` (or only shared ones without it), with its usage. */
  async getBudgetStatus(userId?: string, options: { provider?: string } = {}): Promise<BudgetStatus[]> {
    const now = this.clock().getTime();
    const tallies = await this.talliesFor(userId, options.provider, now, options.provider === undefined);
    return tallies.map((t) => statusOf(t, now));
  }

  /**
   * The enforcing callback handler for this guard; add it next to the tracking handler
   * (`attachTokenTracking(config, { extraHandlers: [guard.createHandler()] })`).
   */
  createHandler(defaults: BudgetGuardHandlerOptions = {}): BudgetGuardHandler {
    return new BudgetGuardHandler(this, defaults);
  }

  /** Resolves once queued webhook alerts were delivered or dropped. */
  async flushAlerts(): Promise<void> {
    while (this.pendingClaims.size > 0) await Promise.all(this.pendingClaims);
    // Sinks run one microtask after the claim.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.alerts.idle();
  }

  close(): void {
    this.alerts.close();
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

  private async talliesFor(userId: string | undefined, provider: string | undefined, now: number, allProviders: boolean): Promise<WindowTally[]> {
    if (!this.loaded) await this.ensureLoaded();
    const limits = this.limitsFor(userId, provider, allProviders);
    const out: WindowTally[] = new Array(limits.length);
    let unseeded: WindowTally[] | undefined;
    for (let i = 0; i < limits.length; i++) {
      const t = this.tally(limits[i], userId, now);
      out[i] = t;
      if (!t.seeded) (unseeded ??= []).push(t);
    }
    if (unseeded) await Promise.all(unseeded.map((t) => this.seed(t)));
    return out;
  }

  private limitsFor(userId: string | undefined, provider: string | undefined, allProviders: boolean): BudgetLimit[] {
    const key = `${userId ?? ""}\u0000${provider ?? ""}\u0000${allProviders}`;
    const cached = this.applicable.get(key);
    if (cached && cached.generation === this.generation) return cached.limits;
    const limits =
      userId === undefined
        ? applicableLimits(this.limits, "\u0000", provider, allProviders).filter((l) => !l.scope.startsWith("user:"))
        : applicableLimits(this.limits, userId, provider, allProviders);
    if (this.applicable.size > 10_000) this.applicable.clear();
    this.applicable.set(key, { generation: this.generation, limits });
    return limits;
  }

  private tally(limit: BudgetLimit, userId: string | undefined, now: number): WindowTally {
    const subject = limit.scope === "user:*" ? (userId ?? null) : null;
    const key = `${limit.id}\u0000${subject ?? ""}`;
    const existing = this.tallies.get(key);
    if (existing && existing.limit === limit && existing.current(now)) return existing;
    if (existing) this.forget(key, existing);
    const t = new WindowTally(limit, subject, now);
    this.tallies.set(key, t);
    const user = subject ?? (limit.scope.startsWith("user:") ? limit.scope.slice(5) : null);
    if (user !== null) {
      let set = this.userTallies.get(user);
      if (!set) this.userTallies.set(user, (set = new Set()));
      set.add(t);
    } else this.sharedTallies.add(t);
    return t;
  }

  private forget(key: string, t: WindowTally): void {
    this.tallies.delete(key);
    this.sharedTallies.delete(t);
    for (const [user, set] of this.userTallies) if (set.delete(t) && set.size === 0) this.userTallies.delete(user);
  }

  private seed(t: WindowTally): Promise<void> {
    t.seeding ??= this.load(t).then(
      () => {
        t.seeded = true;
        this.checkThresholds(t, this.clock().getTime());
      },
      (error) => {
        // Fail open: a store outage must not stop every model call; the next check retries.
        t.seeding = null;
        this.logger.warn(`[token-tracking] budget "${t.limit.id}" could not read past usage: ${(error as Error).message}`);
      },
    );
    return t.seeding;
  }

  private async load(t: WindowTally): Promise<void> {
    const seq = this.settled.seq;
    const rolling = t.rollingHours !== null;
    const filter: RecordFilter = {};
    const user = t.subject ?? (t.limit.scope.startsWith("user:") ? t.limit.scope.slice(5) : undefined);
    if (user !== undefined) filter.userId = user;
    if (t.limit.scope.startsWith("provider:")) filter.provider = t.limit.scope.slice(9);
    const start = rolling ? Math.floor(t.window.start / 60_000) * 60_000 : t.window.start;
    const end = rolling ? this.clock().getTime() + 60_000 : t.window.end;
    const rows = await this.monitor.aggregate(
      { ...filter, start: new Date(start).toISOString(), end: new Date(end).toISOString() },
      rolling ? ["hour"] : [],
    );
    const unit = (x: { totalTokens: number; costNanos: number }) => (t.limit.metric === "cost" ? x.costNanos : x.totalTokens);
    // Rolling windows place an hour's spend at its last record, so it leaves the window no earlier than it should.
    for (const row of rows) t.add(rolling && row.lastSeen ? Date.parse(row.lastSeen) : start, unit(row));
    for (const c of this.settled.before(seq)) {
      if (matches(t, c.userId, c.provider) && t.covers(c.at)) t.add(c.at, t.limit.metric === "cost" ? c.costNanos : c.tokens);
    }
  }

  private apply(userId: string, provider: string | undefined, at: number, amount: UsageAmount, now: number): void {
    const visit = (t: WindowTally) => {
      if (!matches(t, userId, provider) || !t.current(now) || !t.covers(at)) return;
      const units = t.limit.metric === "cost" ? amount.costNanos : amount.tokens;
      if (units === 0) return;
      t.add(at, units);
      if (t.seeded && units > 0) this.checkThresholds(t, now);
    };
    for (const t of this.sharedTallies) visit(t);
    const own = this.userTallies.get(userId);
    if (own) for (const t of own) visit(t);
  }

  private decide(tallies: WindowTally[], estimate: UsageAmount | undefined, now: number): BudgetDecision {
    const decision: BudgetDecision = { allowed: true, exceeded: [], warnings: [] };
    for (const t of tallies) {
      const used = t.used(now);
      const need = estimate ? (t.limit.metric === "cost" ? estimate.costNanos : estimate.tokens) : 0;
      const committed = used + t.reserved;
      // Refused when nothing is left, or when this call's estimate does not fit.
      if (committed < t.limitAmount && committed + need <= t.limitAmount) continue;
      const details = exceededDetails(t, committed);
      if (t.limit.mode === "block") {
        decision.allowed = false;
        decision.exceeded.push(details);
      } else decision.warnings.push(details);
    }
    return decision;
  }

  private checkThresholds(t: WindowTally, now: number): void {
    const used = t.used(now);
    if (used <= 0) return;
    for (const threshold of t.limit.thresholds) {
      if (t.alerted.has(threshold) || used < threshold * t.limitAmount) continue;
      t.alerted.add(threshold);
      const alert = this.alertFor(t, threshold, used, now);
      const key = `${t.limit.id}${t.subject !== null ? `@${t.subject}` : ""}:${alert.windowStart}:${threshold}`;
      const pending: Promise<void> = this.monitor.store.claimOnce(ALERT_NAMESPACE, key).then(
        (first) => {
          if (first) this.alerts.emit(alert);
        },
        (error) => {
          // Better a repeated alert than a lost one.
          this.logger.warn(`[token-tracking] budget alert dedupe failed (${(error as Error).message}); alerting anyway`);
          this.alerts.emit(alert);
        },
      );
      this.pendingClaims.add(pending);
      void pending.finally(() => this.pendingClaims.delete(pending));
    }
  }

  private alertFor(t: WindowTally, threshold: number, used: number, now: number): BudgetAlert {
    // Rolling windows have no fixed start: their alerts are deduplicated per block of N hours.
    const block = t.rollingHours !== null ? t.rollingHours * 3_600_000 : 0;
    const windowStart = block ? Math.floor(now / block) * block : t.window.start;
    return {
      limitId: t.limit.id,
      scope: t.limit.scope,
      userId: t.subject ?? (t.limit.scope.startsWith("user:") ? t.limit.scope.slice(5) : null),
      metric: t.limit.metric,
      mode: t.limit.mode,
      level: alertLevel(threshold),
      threshold,
      percent: t.limitAmount > 0 ? used / t.limitAmount : 1,
      used: toDisplay(t.limit, used),
      limit: t.limit.amount,
      windowStart: new Date(windowStart).toISOString(),
      resetsAt: t.window.resetsAt === null ? null : new Date(t.window.resetsAt).toISOString(),
      at: new Date(now).toISOString(),
    };
  }

  /** Drops stale tallies, reservations of calls that never ended and old settled calls. */
  private sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS && now >= this.lastSweep) return;
    this.lastSweep = now;
    const expired = this.reservations.expire(now - this.reservationTtlMs);
    if (expired > 0) this.logger.warn(`[token-tracking] released ${expired} budget reservations of calls that never ended`);
    this.settled.expire(now - SETTLED_TTL_MS);
    for (const [key, t] of this.tallies) if (t.rollingHours === null && now >= t.window.end && t.reserved === 0) this.forget(key, t);
  }
}

function matches(t: WindowTally, userId: string, provider: string | undefined): boolean {
  const scope = t.limit.scope;
  if (scope === "global") return true;
  if (scope === "user:*") return t.subject === userId;
  if (scope.startsWith("user:")) return scope === `user:${userId}`;
  return provider !== undefined && scope === `provider:${provider}`;
}

function exceededDetails(t: WindowTally, used: number): BudgetExceededDetails {
  return {
    scope: t.subject !== null ? `user:${t.subject}` : t.limit.scope,
    limitId: t.limit.id,
    metric: t.limit.metric,
    limit: t.limit.amount,
    used: toDisplay(t.limit, used),
    remaining: toDisplay(t.limit, Math.max(0, t.limitAmount - used)),
    resetsAt: t.window.resetsAt === null ? null : new Date(t.window.resetsAt).toISOString(),
  };
}

function statusOf(t: WindowTally, now: number): BudgetStatus {
  const used = t.used(now);
  const percent = t.limitAmount > 0 ? used / t.limitAmount : used > 0 ? 1 : 0;
  const crossed = t.limit.thresholds.filter((x) => used > 0 && used >= x * t.limitAmount);
  const top = crossed[crossed.length - 1];
  return {
    limitId: t.limit.id,
    scope: t.subject !== null ? `user:${t.subject}` : t.limit.scope,
    metric: t.limit.metric,
    mode: t.limit.mode,
    period: t.limit.period,
    timeZone: t.limit.timeZone,
    resetTime: t.limit.resetTime,
    limit: t.limit.amount,
    used: toDisplay(t.limit, used),
    reserved: toDisplay(t.limit, t.reserved),
    remaining: toDisplay(t.limit, Math.max(0, t.limitAmount - used)),
    percent,
    periodStart: new Date(t.window.start).toISOString(),
    resetsAt: t.window.resetsAt === null ? null : new Date(t.window.resetsAt).toISOString(),
    state: top === undefined ? "ok" : alertLevel(top),
  };
}
