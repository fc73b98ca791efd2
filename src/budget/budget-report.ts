/**
 * What the guard tells people: budget status rows, the details of a refusal, and
 * the alerts (thresholds crossed, and a refusal in a window whose 100% alert has
 * not fired). Alerts are deduplicated across processes and restarts through the
 * store's `claimOnce`; reading status never claims or sends one.
 */
import type { BudgetExceededDetails } from "../errors.js";
import type { UsageStore } from "../stores/types.js";
import type { Logger } from "../writer/buffered-writer.js";
import { alertLevel, type AlertDispatcher, type BudgetAlert } from "./alerts.js";
import type { BudgetMode, BudgetPeriod } from "./limits.js";
import { subjectScope, userOf } from "./scopes.js";
import { toDisplay, type Tally } from "./tally.js";

export type BudgetState = "ok" | "warning" | "critical" | "exceeded";

export interface BudgetStatus {
  limitId: string;
  /** The subject's scope: `user:alice` for a `user:*` limit, `dimension:tenant=acme`, ... */
  scope: string;
  metric: "tokens" | "cost" | "requests";
  mode: BudgetMode;
  period: BudgetPeriod;
  timeZone: string;
  resetTime: string;
  /** Tokens, requests, or USD for cost limits. */
  limit: number;
  /** Settled usage in the window, every process included. */
  used: number;
  /** Held by calls in flight (every process's, as last reported). */
  inFlight: number;
  /** limit - used - inFlight, at least 0. */
  remaining: number;
  /** used / limit as a fraction (1 = exhausted); 0 for a zero limit with nothing used. */
  fractionUsed: number;
  periodStart: string;
  resetsAt: string | null;
  state: BudgetState;
}

const ALERT_NAMESPACE = "budget-alerts";

export function statusRow(t: Tally, used: number, inFlight: number): BudgetStatus {
  const l = t.limit;
  const fractionUsed = t.limitAmount > 0 ? used / t.limitAmount : used > 0 ? 1 : 0;
  const crossed = l.thresholds.filter((x) => used > 0 && used >= x * t.limitAmount);
  const top = crossed[crossed.length - 1];
  return {
    limitId: l.id,
    scope: subjectScope(l, t.subject),
    metric: l.metric,
    mode: l.mode,
    period: l.period,
    timeZone: l.timeZone,
    resetTime: l.resetTime,
    limit: l.amount,
    used: toDisplay(l, used),
    inFlight: toDisplay(l, inFlight),
    remaining: toDisplay(l, Math.max(0, t.limitAmount - used - inFlight)),
    fractionUsed,
    periodStart: new Date(t.window.start).toISOString(),
    resetsAt: t.window.resetsAt === null ? null : new Date(t.window.resetsAt).toISOString(),
    state: top === undefined ? "ok" : (alertLevel(top) as BudgetState),
  };
}

export function exceededDetails(t: Tally, now: number, estimate: number, estimateBasis: string | undefined): BudgetExceededDetails {
  const used = t.used(now);
  const inFlight = t.inFlight();
  const details: BudgetExceededDetails = {
    scope: subjectScope(t.limit, t.subject),
    limitId: t.limit.id,
    metric: t.limit.metric,
    limit: t.limit.amount,
    used: toDisplay(t.limit, used),
    inFlight: toDisplay(t.limit, inFlight),
    remaining: toDisplay(t.limit, Math.max(0, t.limitAmount - used - inFlight)),
    estimate: toDisplay(t.limit, estimate),
    resetsAt: t.window.resetsAt === null ? null : new Date(t.window.resetsAt).toISOString(),
  };
  if (estimateBasis !== undefined) details.estimateBasis = t.limit.metric === "requests" ? "1 request" : estimateBasis;
  return details;
}

/** Raises threshold and refusal alerts, once per window across processes. */
export class AlertRaiser {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly store: UsageStore,
    private readonly alerts: AlertDispatcher,
    private readonly logger: Logger,
  ) {}

  /** Alerts every threshold `used` has reached in `t`'s window and that was not alerted yet. */
  thresholds(t: Tally, used: number, now: number): void {
    if (used <= 0) return;
    for (const threshold of t.limit.thresholds) {
      if (t.alerted.has(threshold) || used < threshold * t.limitAmount) continue;
      t.alerted.add(threshold);
      this.raise(t, alertLevel(threshold), threshold, used, now, `${threshold}`);
    }
  }

  /** A refused call: its own alert, unless the window's 100% alert has fired. */
  refusal(t: Tally, used: number, now: number): void {
    if (t.alerted.has(1) || t.refusalAlerted) return;
    t.refusalAlerted = true;
    this.raise(t, "refused", 1, used, now, "refused");
  }

  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
  }

  private raise(t: Tally, level: BudgetAlert["level"], threshold: number, used: number, now: number, suffix: string): void {
    // Rolling windows have no fixed start: their alerts are deduplicated per block of N hours.
    const block = typeof t.limit.period === "object" ? t.limit.period.rollingHours * 3_600_000 : 0;
    const windowStart = block ? Math.floor(now / block) * block : t.window.start;
    const alert: BudgetAlert = {
      limitId: t.limit.id,
      scope: t.limit.scope,
      subjectScope: subjectScope(t.limit, t.subject),
      userId: userOf(t.limit, t.subject),
      metric: t.limit.metric,
      mode: t.limit.mode,
      level,
      threshold,
      fractionUsed: t.limitAmount > 0 ? used / t.limitAmount : 1,
      used: toDisplay(t.limit, used),
      limit: t.limit.amount,
      windowStart: new Date(windowStart).toISOString(),
      resetsAt: t.window.resetsAt === null ? null : new Date(t.window.resetsAt).toISOString(),
      at: new Date(now).toISOString(),
    };
    const key = `${t.limit.id}${t.subject !== "" ? `@${t.subject}` : ""}:${alert.windowStart}:${suffix}`;
    const pending: Promise<void> = this.store.claimOnce(ALERT_NAMESPACE, key).then(
      (first) => {
        if (first) this.alerts.emit(alert);
      },
      (error) => {
        // Better a repeated alert than a lost one.
        this.logger.warn(`[token-tracking] budget alert dedupe failed (${(error as Error).message}); alerting anyway`);
        this.alerts.emit(alert);
      },
    );
    this.pending.add(pending);
    void pending.finally(() => this.pending.delete(pending));
  }
}
