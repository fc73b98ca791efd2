/**
 * What `/metrics` reports, read from the store at scrape time.
 *
 * The counters are all-time totals of the records in the store (its global rollups on
 * SQLite), not counts kept by the server process: the agents that make the calls are
 * other processes, and every replica of the server reads the same store, so each one
 * reports the same totals and a restart resets nothing. Query them with `max` across
 * replicas (or scrape one), never `sum`. A prune or a re-pricing that lowers a total looks
 * like a counter reset to Prometheus, which `rate()` and `increase()` handle.
 */
import type { BudgetStatus } from "../../budget/index.js";
import { nanosToUsd } from "../../record/mapping.js";
import type { AggregateRow } from "../../stores/types.js";
import type { MetricFamily, Sample } from "./exposition.js";

const TOKEN_TYPES = [
  ["input", "inputTokens"],
  ["output", "outputTokens"],
  ["cache_read", "cacheReadTokens"],
  ["cache_write", "cacheWriteTokens"],
  ["reasoning", "reasoningTokens"],
] as const;

/** Rows grouped by provider, model, agent and operation, as families. */
export function usageFamilies(rows: AggregateRow[]): MetricFamily[] {
  const requests: Sample[] = [];
  const errors: Sample[] = [];
  const unpriced: Sample[] = [];
  const tokens: Sample[] = [];
  const cost: Sample[] = [];
  for (const row of rows) {
    const labels = {
      provider: row.key.provider ?? "",
      model: row.key.model ?? "",
      agent: row.key.agent ?? "",
      operation: row.key.operation ?? "",
    };
    requests.push({ labels, value: row.requests });
    errors.push({ labels, value: row.errors });
    unpriced.push({ labels, value: row.unpriced });
    for (const [type, field] of TOKEN_TYPES) tokens.push({ labels: { ...labels, type }, value: row[field] });
    cost.push({ labels, value: nanosToUsd(row.costNanos) });
  }
  return [
    { name: "token_usage_requests_total", type: "counter", help: "Model calls recorded in the store.", samples: requests },
    { name: "token_usage_errors_total", type: "counter", help: "Model calls that failed.", samples: errors },
    { name: "token_usage_unpriced_requests_total", type: "counter", help: "Calls whose model has no known price (cost counted as 0).", samples: unpriced },
    {
      name: "token_usage_tokens_total",
      type: "counter",
      help: "Tokens by type; input includes cache_read and cache_write, output includes reasoning.",
      samples: tokens,
    },
    { name: "token_usage_cost_usd_total", type: "counter", help: "Cost in USD of priced calls.", samples: cost },
  ];
}

/** The fields of a budget status reported as gauges. */
export type BudgetStatusRow = Pick<BudgetStatus, "limitId" | "scope" | "metric" | "used" | "limit" | "fractionUsed">;

/** The application-wide budgets (global and provider limits), as gauges. */
export function budgetFamilies(statuses: BudgetStatusRow[]): MetricFamily[] {
  const ratio: Sample[] = [];
  const used: Sample[] = [];
  const limit: Sample[] = [];
  for (const s of statuses) {
    const labels = { limit_id: s.limitId, scope: s.scope, metric: s.metric };
    ratio.push({ labels, value: s.fractionUsed });
    used.push({ labels, value: s.used });
    limit.push({ labels, value: s.limit });
  }
  return [
    { name: "token_usage_budget_utilization_ratio", type: "gauge", help: "Budget used over its limit in the current window (1 = exhausted).", samples: ratio },
    { name: "token_usage_budget_used", type: "gauge", help: "Budget used in the current window, in tokens or USD (see the metric label).", samples: used },
    { name: "token_usage_budget_limit", type: "gauge", help: "Budget limit, in tokens or USD (see the metric label).", samples: limit },
  ];
}
