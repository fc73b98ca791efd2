/**
 * Budget configuration from the environment and from a JSON file.
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | DAILY_TOKEN_BUDGET | global tokens per day | none |
 * | DAILY_COST_BUDGET | global USD per day | none |
 * | MONTHLY_COST_BUDGET | global USD per month | none |
 * | BUDGET_ENFORCEMENT | `warn` (alert only) or `block` (refuse calls); `false`/`true` mean the same | `warn` |
 * | BUDGET_TIME_ZONE | IANA zone of those days and months | `UTC` |
 * | BUDGET_ALERT_WEBHOOK | URL alerts are POSTed to | none |
 * | BUDGET_ALERT_WEBHOOK_FORMAT | `json`, `slack`, `teams` or `teams-legacy` | `json` |
 * | BUDGET_CONFIG_FILE | JSON file read by `loadBudgetConfigFile` | none |
 * | USAGE_TRACKING_ENABLED | `false` turns budgets off with tracking | `true` |
 *
 * The file (see `BudgetFileConfig`) adds per-user limits, provider subscriptions,
 * thresholds and the webhook, in the shape the reference monitors used.
 */
import { readFileSync } from "node:fs";
import { parseBoolean } from "../config.js";
import { ValidationError } from "../errors.js";
import type { WebhookOptions } from "./alerts.js";
import { parseWebhookFormat } from "./alert-formats.js";
import {
  normalizeLimit,
  subscriptionLimit,
  type BillingCycle,
  type BudgetLimit,
  type BudgetLimitInput,
  type BudgetMode,
  type SubscriptionKind,
} from "./limits.js";

export interface BudgetConfig {
  enabled: boolean;
  mode: BudgetMode;
  limits: BudgetLimit[];
  webhook?: WebhookOptions;
}

export function budgetConfigFromEnv(env: NodeJS.ProcessEnv = process.env): BudgetConfig {
  const mode = parseMode(env.BUDGET_ENFORCEMENT, "BUDGET_ENFORCEMENT") ?? "warn";
  const timeZone = env.BUDGET_TIME_ZONE?.trim() || "UTC";
  const limits: BudgetLimit[] = [];
  const add = (variable: string, id: string, metric: "tokens" | "cost", period: "day" | "month") => {
    const raw = env[variable];
    if (raw === undefined || raw.trim() === "") return;
    const amount = Number(raw.trim());
    if (!Number.isFinite(amount)) throw new ValidationError(variable, `must be a number, got ${JSON.stringify(raw)}`);
    try {
      limits.push(normalizeLimit({ id, scope: "global", metric, amount, period, timeZone, mode }));
    } catch (error) {
      const e = error as ValidationError;
      throw new ValidationError(e.field === "timeZone" ? "BUDGET_TIME_ZONE" : variable, e.message.replace(/^[^:]+: /, ""), { cause: e });
    }
  };
  add("DAILY_TOKEN_BUDGET", "env:daily-tokens", "tokens", "day");
  add("DAILY_COST_BUDGET", "env:daily-cost", "cost", "day");
  add("MONTHLY_COST_BUDGET", "env:monthly-cost", "cost", "month");
  const config: BudgetConfig = {
    enabled: parseBoolean(env.USAGE_TRACKING_ENABLED, "USAGE_TRACKING_ENABLED", true),
    mode,
    limits,
  };
  const webhook = env.BUDGET_ALERT_WEBHOOK?.trim();
  const format = parseWebhookFormat(env.BUDGET_ALERT_WEBHOOK_FORMAT, "BUDGET_ALERT_WEBHOOK_FORMAT");
  if (webhook) config.webhook = { url: webhook };
  if (env.BUDGET_CONFIG_FILE?.trim()) {
    const file = loadBudgetConfigFile(env.BUDGET_CONFIG_FILE.trim(), { mode });
    config.limits.push(...file.limits);
    if (file.mode) config.mode = file.mode;
    if (file.webhook) config.webhook = file.webhook;
  }
  // The env format applies to whichever webhook is configured, unless the file names its own.
  if (config.webhook && format !== "json") config.webhook = { format, ...config.webhook };
  return config;
}

function parseMode(value: unknown, field: string): BudgetMode | undefined {
  if (value === undefined || value === null || (typeof value === "string" && value.trim() === "")) return undefined;
  const v = String(value).trim().toLowerCase();
  if (v === "warn" || v === "false" || v === "off") return "warn";
  if (v === "block" || v === "true" || v === "enforce") return "block";
  throw new ValidationError(field, `must be "warn" or "block", got ${JSON.stringify(value)}`);
}

/**
 * ```json
 * {
 *   "enforcement": "block",
 *   "timeZone": "Europe/Paris",
 *   "global": { "daily_tokens": 200000, "daily_cost": 5, "monthly_cost": 100 },
 *   "users": { "*": [{ "metric": "cost", "amount": 1, "period": "day" }], "alice": [{ "metric": "cost", "amount": 5 }] },
 *   "subscription_limits": {
 *     "anthropic": { "max_plan_tokens": 5000000, "billing_cycle": "monthly" },
 *     "openai": { "prepaid_credits": 100 },
 *     "gemini": { "free_tier_tokens": 1000000 }
 *   },
 *   "limits": [{ "id": "gpt-rolling", "scope": "global", "metric": "tokens", "amount": 50000, "period": { "rollingHours": 5 } }],
 *   "alerts": { "warn_at_percentage": 80, "critical_at_percentage": 95, "webhook": "https://hooks.example/budget" }
 * }
 * ```
 */
export interface BudgetFileConfig {
  mode?: BudgetMode;
  limits: BudgetLimit[];
  webhook?: WebhookOptions;
}

const TOP_KEYS = new Set(["enforcement", "timeZone", "global", "users", "subscription_limits", "limits", "alerts"]);
const SUBSCRIPTION_KINDS: SubscriptionKind[] = ["max_plan_tokens", "prepaid_credits", "free_tier_tokens"];

export function loadBudgetConfigFile(path: string, defaults: { mode?: BudgetMode } = {}): BudgetFileConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new ValidationError("budgetConfigFile", `cannot read ${path} as JSON: ${(cause as Error).message}`, { cause });
  }
  return parseBudgetConfig(raw, defaults);
}

export function parseBudgetConfig(raw: unknown, defaults: { mode?: BudgetMode } = {}): BudgetFileConfig {
  const o = object(raw, "budget config");
  for (const key of Object.keys(o)) if (!TOP_KEYS.has(key)) throw new ValidationError(key, `is not a budget config key (expected ${[...TOP_KEYS].join(", ")})`);
  const mode = parseMode(o.enforcement, "enforcement") ?? defaults.mode;
  const timeZone = o.timeZone as string | undefined;
  const alerts = o.alerts === undefined ? {} : object(o.alerts, "alerts");
  const thresholds = thresholdsOf(alerts);
  const base = { mode, ...(timeZone !== undefined ? { timeZone } : {}), ...(thresholds ? { thresholds } : {}) };
  const limits: BudgetLimit[] = [];

  if (o.global !== undefined) {
    const g = object(o.global, "global");
    const names: Record<string, [string, "tokens" | "cost", "day" | "month"]> = {
      daily_tokens: ["file:daily-tokens", "tokens", "day"],
      daily_cost: ["file:daily-cost", "cost", "day"],
      monthly_tokens: ["file:monthly-tokens", "tokens", "month"],
      monthly_cost: ["file:monthly-cost", "cost", "month"],
    };
    for (const [key, amount] of Object.entries(g)) {
      const spec = names[key];
      if (!spec) throw new ValidationError(`global.${key}`, `is not one of ${Object.keys(names).join(", ")}`);
      limits.push(normalizeLimit({ ...base, id: spec[0], scope: "global", metric: spec[1], period: spec[2], amount }, `global.${key}`));
    }
  }
  if (o.users !== undefined) {
    for (const [user, list] of Object.entries(object(o.users, "users"))) {
      if (!Array.isArray(list)) throw new ValidationError(`users.${user}`, "must be an array of limits");
      list.forEach((l, i) => {
        const path = `users.${user}[${i}]`;
        const input = { ...base, ...object(l, path), scope: user === "*" ? "user:*" : `user:${user}` } as BudgetLimitInput;
        limits.push(normalizeLimit(input, path));
      });
    }
  }
  if (o.subscription_limits !== undefined) {
    for (const [provider, sub] of Object.entries(object(o.subscription_limits, "subscription_limits"))) {
      const s = object(sub, `subscription_limits.${provider}`);
      const cycle = (s.billing_cycle ?? "monthly") as BillingCycle;
      for (const [key, value] of Object.entries(s)) {
        if (key === "billing_cycle") continue;
        const field = `subscription_limits.${provider}.${key}`;
        // The reference files carry zeros for plans not bought (`monthly_limit: 0`): skipped.
        if (!SUBSCRIPTION_KINDS.includes(key as SubscriptionKind)) {
          if (value === 0) continue;
          throw new ValidationError(field, `is not one of ${SUBSCRIPTION_KINDS.join(", ")}, billing_cycle`);
        }
        if (typeof value !== "number") throw new ValidationError(field, `must be a number, got ${JSON.stringify(value)}`);
        try {
          limits.push(subscriptionLimit(provider, key as SubscriptionKind, value, { ...base, billingCycle: cycle }));
        } catch (error) {
          const e = error as ValidationError;
          throw new ValidationError(`${field}${e.field === "amount" ? "" : `.${e.field}`}`, e.message.replace(/^[^:]+: /, ""), { cause: e });
        }
      }
    }
  }
  if (o.limits !== undefined) {
    if (!Array.isArray(o.limits)) throw new ValidationError("limits", "must be an array of limits");
    o.limits.forEach((l, i) => limits.push(normalizeLimit({ ...base, ...object(l, `limits[${i}]`) }, `limits[${i}]`)));
  }
  const config: BudgetFileConfig = { limits };
  if (mode) config.mode = mode;
  if (alerts.webhook !== undefined) {
    config.webhook = typeof alerts.webhook === "string" ? { url: alerts.webhook } : (object(alerts.webhook, "alerts.webhook") as unknown as WebhookOptions);
  }
  return config;
}

function thresholdsOf(alerts: Record<string, unknown>): number[] | undefined {
  if (alerts.thresholds !== undefined) return alerts.thresholds as number[];
  const pct = ["warn_at_percentage", "critical_at_percentage"].filter((k) => alerts[k] !== undefined).map((k) => {
    const v = alerts[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || v > 100) throw new ValidationError(`alerts.${k}`, `must be a percentage from 1 to 100, got ${String(v)}`);
    return v / 100;
  });
  return pct.length > 0 ? pct : undefined;
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new ValidationError(field, "must be an object");
  return value as Record<string, unknown>;
}
