/**
 * Budget limits: their shape, defaults and validation. A limit caps the tokens or
 * the cost of one scope (everyone, one user, every user, one provider) over one
 * period window. Validation names the offending field, so a bad row from a config
 * file, an env variable or the REST API says exactly what to fix.
 */
import { ValidationError } from "../errors.js";
import { assertTimeZone } from "../query/time-buckets.js";

/** Tokens, USD, or model calls (`requests`: each admitted call counts one). */
export type BudgetMetric = "tokens" | "cost" | "requests";
export type BudgetMode = "warn" | "block";
/**
 * Calendar periods start at `resetTime` in `timeZone`; weeks start on Monday. `minute`
 * and `hour` are whole UTC minutes and hours (per-minute rate limits as budgets).
 * `{ rollingHours: n }` is the last n hours (1 to 8,784), shared by every process and
 * counted in buckets of n minutes (1/60 of the window): usage leaves the window a
 * bucket at a time, up to n minutes after its exact time (it never under-counts).
 */
export type BudgetPeriod = "minute" | "hour" | "day" | "week" | "month" | { rollingHours: number };
/** Provider plans as the reference monitors name them. */
export type SubscriptionKind = "max_plan_tokens" | "prepaid_credits" | "free_tier_tokens";

/**
 * Scopes: `global` (every call), `user:*` (the default for each user separately),
 * `user:<id>` (one user, replacing `user:*` limits of the same metric and period),
 * `provider:<name>` (every call of that provider, e.g. a subscription), `agent:<name>`
 * and `model:<name>`, `dimension:<name>=<value>` (one charge-back value, e.g.
 * `dimension:tenant=acme`); `agent:*`, `model:*` and `dimension:<name>=*` count each
 * agent, model or value separately.
 */
export type BudgetScope =
  | "global"
  | "user:*"
  | `user:${string}`
  | `provider:${string}`
  | `agent:${string}`
  | `model:${string}`
  | `dimension:${string}=${string}`;

export interface BudgetLimitInput {
  /** @default derived from scope, metric and period, e.g. `global:cost:day` */
  id?: string;
  scope: string;
  metric: BudgetMetric;
  /** Tokens or requests (whole numbers), or USD. */
  amount: number;
  /** @default "day" */
  period?: BudgetPeriod;
  /** IANA zone of calendar periods. @default "UTC" */
  timeZone?: string;
  /** Local `HH:MM` at which calendar periods start. @default "00:00" */
  resetTime?: string;
  /** Fractions of the amount that raise an alert; 1 (exhausted) is always added. @default [0.8, 0.95] */
  thresholds?: number[];
  /** `warn` only alerts; `block` refuses calls that would go over. @default "warn" */
  mode?: BudgetMode;
  /** Set on limits made from a provider subscription. */
  subscription?: SubscriptionKind;
}

export interface BudgetLimit {
  id: string;
  scope: BudgetScope;
  metric: BudgetMetric;
  amount: number;
  period: BudgetPeriod;
  timeZone: string;
  resetTime: string;
  thresholds: number[];
  mode: BudgetMode;
  subscription?: SubscriptionKind;
}

export const DEFAULT_THRESHOLDS: readonly number[] = [0.8, 0.95];
/** A rolling window longer than a year is a period in disguise. */
export const MAX_ROLLING_HOURS = 24 * 366;
const ID = /^[A-Za-z0-9_.:*@+-]{1,200}$/;
const RESET_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
/** Every field a budget limit may have (the REST body schema is made from it). */
export const BUDGET_LIMIT_FIELDS = ["id", "scope", "metric", "amount", "period", "timeZone", "resetTime", "thresholds", "mode", "subscription"] as const;
const KNOWN_KEYS = new Set<string>(BUDGET_LIMIT_FIELDS);

/** Validates a limit and fills in its defaults. `path` prefixes field names (e.g. `limits[2]`). */
export function normalizeLimit(input: unknown, path = "", defaults: { mode?: BudgetMode } = {}): BudgetLimit {
  const f = (name: string) => (path ? `${path}.${name}` : name);
  if (!input || typeof input !== "object" || Array.isArray(input)) throw new ValidationError(path || "limit", "must be an object");
  const o = input as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!KNOWN_KEYS.has(key)) throw new ValidationError(f(key), "is not a budget limit field");

  const scope = parseScope(o.scope, f("scope"));
  const metric = o.metric;
  if (metric !== "tokens" && metric !== "cost" && metric !== "requests") {
    throw new ValidationError(f("metric"), `must be "tokens", "cost" or "requests", got ${JSON.stringify(metric)}`);
  }
  const amount = o.amount;
  if (typeof amount !== "number" || !Number.isFinite(amount)) throw new ValidationError(f("amount"), `must be a finite number, got ${String(amount)}`);
  if (amount < 0) throw new ValidationError(f("amount"), `must not be negative, got ${amount}`);
  if (metric !== "cost" && !Number.isInteger(amount)) throw new ValidationError(f("amount"), `a ${metric === "tokens" ? "token" : "request"} amount must be a whole number, got ${amount}`);

  const period = parsePeriod(o.period ?? "day", f("period"));
  let timeZone = "UTC";
  if (o.timeZone !== undefined) {
    try {
      timeZone = assertTimeZone(o.timeZone as string);
    } catch (error) {
      throw new ValidationError(f("timeZone"), (error as ValidationError).message.replace(/^timeZone: /, ""));
    }
  }
  const resetTime = o.resetTime ?? "00:00";
  if (typeof resetTime !== "string" || !RESET_TIME.test(resetTime)) {
    throw new ValidationError(f("resetTime"), `must be a local time HH:MM such as "09:00", got ${JSON.stringify(resetTime)}`);
  }
  const thresholds = parseThresholds(o.thresholds ?? DEFAULT_THRESHOLDS, f("thresholds"));
  const mode = o.mode ?? defaults.mode ?? "warn";
  if (mode !== "warn" && mode !== "block") throw new ValidationError(f("mode"), `must be "warn" or "block", got ${JSON.stringify(mode)}`);
  const subscription = o.subscription;
  if (subscription !== undefined && !SUBSCRIPTION_METRIC[subscription as SubscriptionKind]) {
    throw new ValidationError(f("subscription"), `must be one of ${Object.keys(SUBSCRIPTION_METRIC).join(", ")}, got ${JSON.stringify(subscription)}`);
  }
  const id = o.id ?? defaultLimitId(scope, metric, period);
  if (typeof id !== "string" || !ID.test(id)) {
    throw new ValidationError(f("id"), `must be 1-200 characters of letters, digits and _.:*@+-, got ${JSON.stringify(id)}`);
  }
  const limit: BudgetLimit = { id, scope, metric, amount, period, timeZone, resetTime, thresholds, mode };
  if (subscription !== undefined) limit.subscription = subscription as SubscriptionKind;
  return limit;
}

function parseScope(value: unknown, field: string): BudgetScope {
  if (value === "global" || value === "user:*" || value === "agent:*" || value === "model:*") return value;
  if (typeof value === "string") {
    const m = /^(user|provider|agent|model):(.{1,1024})$/s.exec(value);
    if (m && m[2] !== "*") return value as BudgetScope;
    if (value === "provider:*") throw new ValidationError(field, 'a provider scope names one provider, e.g. "provider:openai"');
    const d = /^dimension:([A-Za-z0-9_.-]{1,64})=(.{1,1024})$/s.exec(value);
    if (d) return value as BudgetScope;
    if (value.startsWith("dimension:")) {
      throw new ValidationError(field, `a dimension scope is dimension:<name>=<value> or dimension:<name>=* (e.g. "dimension:tenant=acme"), got ${JSON.stringify(value)}`);
    }
  }
  throw new ValidationError(
    field,
    `must be "global", "user:*", "user:<id>", "provider:<name>", "agent:<name>|*", "model:<name>|*" or "dimension:<name>=<value>|*", got ${JSON.stringify(value)}`,
  );
}

function parsePeriod(value: unknown, field: string): BudgetPeriod {
  if (value === "minute" || value === "hour" || value === "day" || value === "week" || value === "month") return value;
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const hours = (value as { rollingHours?: unknown }).rollingHours;
    if (keys.length === 1 && keys[0] === "rollingHours") {
      if (typeof hours !== "number" || !Number.isInteger(hours) || hours < 1 || hours > MAX_ROLLING_HOURS) {
        throw new ValidationError(`${field}.rollingHours`, `must be a whole number of hours from 1 to ${MAX_ROLLING_HOURS}, got ${String(hours)}`);
      }
      return { rollingHours: hours };
    }
  }
  throw new ValidationError(field, `must be "minute", "hour", "day", "week", "month" or { rollingHours: n }, got ${JSON.stringify(value)}`);
}

function parseThresholds(value: unknown, field: string): number[] {
  if (!Array.isArray(value) || value.length > 10) throw new ValidationError(field, "must be an array of at most 10 fractions such as [0.8, 0.95]");
  const out = new Set<number>();
  value.forEach((t, i) => {
    if (typeof t !== "number" || !Number.isFinite(t) || t <= 0 || t > 1) {
      throw new ValidationError(`${field}[${i}]`, `must be a fraction above 0 and at most 1 (0.8 = 80%), got ${String(t)}`);
    }
    out.add(t);
  });
  out.add(1);
  return [...out].sort((a, b) => a - b);
}

export function periodLabel(period: BudgetPeriod): string {
  return typeof period === "string" ? period : `rolling${period.rollingHours}h`;
}

export function defaultLimitId(scope: string, metric: BudgetMetric, period: BudgetPeriod): string {
  return `${scope}:${metric}:${periodLabel(period)}`;
}

const SUBSCRIPTION_METRIC: Record<SubscriptionKind, BudgetMetric> = {
  max_plan_tokens: "tokens",
  prepaid_credits: "cost",
  free_tier_tokens: "tokens",
};

export type BillingCycle = "daily" | "weekly" | "monthly";

/**
 * A provider subscription as a limit: plan and free-tier tokens count tokens,
 * prepaid credits count USD; all on the provider's billing cycle.
 */
export function subscriptionLimit(
  provider: string,
  kind: SubscriptionKind,
  amount: number,
  options: { billingCycle?: BillingCycle; mode?: BudgetMode; timeZone?: string; resetTime?: string; thresholds?: number[] } = {},
): BudgetLimit {
  if (!SUBSCRIPTION_METRIC[kind]) throw new ValidationError("subscription", `must be one of ${Object.keys(SUBSCRIPTION_METRIC).join(", ")}, got ${JSON.stringify(kind)}`);
  const cycles: Record<BillingCycle, BudgetPeriod> = { daily: "day", weekly: "week", monthly: "month" };
  const cycle = options.billingCycle ?? "monthly";
  if (!cycles[cycle]) throw new ValidationError("billingCycle", `must be daily, weekly or monthly, got ${JSON.stringify(cycle)}`);
  const { billingCycle: _cycle, ...rest } = options;
  return normalizeLimit({
    id: `provider:${provider}:${kind}`,
    scope: `provider:${provider}`,
    metric: SUBSCRIPTION_METRIC[kind],
    amount,
    period: cycles[cycle],
    subscription: kind,
    ...rest,
  });
}

/**
 * The limits that apply to one user's calls: global ones, the user's own, the
 * `user:*` defaults the user has no override for, and (when the provider is known,
 * or `allProviders` is set) provider limits.
 */
export function applicableLimits(
  limits: readonly BudgetLimit[],
  userId: string,
  provider: string | undefined,
  allProviders = false,
): BudgetLimit[] {
  const own = limits.filter((l) => l.scope === `user:${userId}`);
  const overridden = new Set(own.map((l) => `${l.metric}|${periodLabel(l.period)}`));
  return limits.filter((l) => {
    if (l.scope === "global") return true;
    if (l.scope === "user:*") return !overridden.has(`${l.metric}|${periodLabel(l.period)}`);
    if (l.scope.startsWith("user:")) return l.scope === `user:${userId}`;
    if (l.scope.startsWith("provider:")) return allProviders || l.scope === `provider:${provider}`;
    // Agent, model and dimension limits: the guard matches them against the call itself.
    return true;
  });
}
