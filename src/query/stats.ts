/** `TokenUsageStats`: what every per-user, per-thread and per-provider question answers with. */
import { nanosToUsd } from "../record/mapping.js";
import { addTotals, emptyTotals, type AggregateRow, type UsageTotals } from "../stores/types.js";
import { bucketOf, bucketsBetween, hourBucketer, type Granularity } from "./time-buckets.js";

export interface TrendPoint {
  /** Bucket label: `YYYY-MM-DD` (day, or the Monday of a week) or `YYYY-MM`. */
  date: string;
  cost: number;
  costNanos: number;
  tokens: number;
  requests: number;
}

/** Totals over a set of calls, plus the breakdowns every stats answer carries. */
export interface TokenUsageStats extends TotalsView {
  costByModel: Record<string, number>;
  tokensByModel: Record<string, number>;
  requestsByModel: Record<string, number>;
  costByAgent: Record<string, number>;
  requestsByAgent: Record<string, number>;
  /** One point per day, ISO week or month of the range, zero-filled. */
  costTrend: TrendPoint[];
  range: { start: string; end: string; timeZone: string };
}

/** Label used for records without an agent name. */
export const NO_AGENT = "(none)";

/**
 * Builds stats from rows grouped by model and agent (`rows`) and rows grouped by
 * `hour` or UTC `day` for the trend (`trendRows`; UTC days only when the zone is UTC).
 */
export function statsFromRows(
  rows: AggregateRow[],
  range: { start: string; end: string },
  timeZone: string,
  granularity: Granularity = "day",
  trendRows: AggregateRow[] = rows,
): TokenUsageStats {
  const total = emptyTotals();
  const costByModel: Record<string, number> = {};
  const tokensByModel: Record<string, number> = {};
  const requestsByModel: Record<string, number> = {};
  const costNanosByModel = new Map<string, number>();
  const costNanosByAgent = new Map<string, number>();
  const requestsByAgent: Record<string, number> = {};
  const toBucket = hourBucketer(timeZone, granularity);
  const trend = new Map<string, UsageTotals>();
  for (const row of rows) {
    addTotals(total, row);
    const model = row.key.model ?? "unknown";
    costNanosByModel.set(model, (costNanosByModel.get(model) ?? 0) + row.costNanos);
    tokensByModel[model] = (tokensByModel[model] ?? 0) + row.totalTokens;
    requestsByModel[model] = (requestsByModel[model] ?? 0) + row.requests;
    const agent = row.key.agent ?? NO_AGENT;
    costNanosByAgent.set(agent, (costNanosByAgent.get(agent) ?? 0) + row.costNanos);
    requestsByAgent[agent] = (requestsByAgent[agent] ?? 0) + row.requests;
  }
  for (const row of trendRows) {
    const bucket = row.key.hour ? toBucket(row.key.hour) : row.key.day ? bucketOf(row.key.day, granularity) : undefined;
    if (bucket !== undefined) addTotals(trend.get(bucket) ?? trend.set(bucket, emptyTotals()).get(bucket)!, row);
  }
  for (const [m, n] of costNanosByModel) costByModel[m] = nanosToUsd(n);
  const costByAgent: Record<string, number> = {};
  for (const [a, n] of costNanosByAgent) costByAgent[a] = nanosToUsd(n);
  return {
    ...totalsToStats(total),
    costByModel,
    tokensByModel,
    requestsByModel,
    costByAgent,
    requestsByAgent,
    costTrend: bucketsBetween(range.start, range.end, timeZone, granularity).map((date) => {
      const t = trend.get(date) ?? emptyTotals();
      return { date, cost: nanosToUsd(t.costNanos), costNanos: t.costNanos, tokens: t.totalTokens, requests: t.requests };
    }),
    range: { start: range.start, end: range.end, timeZone },
  };
}

export interface TotalsView {
  totalRequests: number;
  totalInputTokens: number;
  totalOutputTokens: number;
  totalTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** USD. Sums are made in integer nano-dollars (`totalCostNanos`) and converted once. */
  totalCost: number;
  totalCostNanos: number;
  errorCount: number;
  /** Calls whose model has no known price: their cost is 0 and must not be trusted. */
  unpricedRequests: number;
  estimatedRequests: number;
  cachedRequests: number;
  firstSeen: string | null;
  lastSeen: string | null;
}

export function totalsToStats(t: UsageTotals): TotalsView {
  return {
    totalRequests: t.requests,
    totalInputTokens: t.inputTokens,
    totalOutputTokens: t.outputTokens,
    totalTokens: t.totalTokens,
    cacheReadTokens: t.cacheReadTokens,
    cacheWriteTokens: t.cacheWriteTokens,
    reasoningTokens: t.reasoningTokens,
    totalCost: nanosToUsd(t.costNanos),
    totalCostNanos: t.costNanos,
    errorCount: t.errors,
    unpricedRequests: t.unpriced,
    estimatedRequests: t.estimated,
    cachedRequests: t.cached,
    firstSeen: t.firstSeen,
    lastSeen: t.lastSeen,
  };
}
