/** The one place where camelCase records and snake_case stored documents meet. */
import type { StoredUsageRecord, UsageRecord } from "./types.js";

export const NANOS_PER_USD = 1_000_000_000;

export function nanosToUsd(nanos: number): number {
  return nanos / NANOS_PER_USD;
}

export function toStored(r: UsageRecord): StoredUsageRecord {
  return {
    id: r.id,
    user_id: r.userId,
    thread_id: r.threadId,
    agent_name: r.agentName,
    operation_type: r.operationType,
    provider: r.provider,
    model: r.model,
    deployment: r.deployment,
    timestamp: r.timestamp,
    day: r.timestamp.slice(0, 10),
    month: r.timestamp.slice(0, 7),
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    total_tokens: r.totalTokens,
    cache_read_tokens: r.cacheReadTokens,
    cache_write_tokens: r.cacheWriteTokens,
    reasoning_tokens: r.reasoningTokens,
    input_cost: r.inputCost,
    output_cost: r.outputCost,
    total_cost: r.totalCost,
    input_cost_nanos: r.inputCostNanos,
    output_cost_nanos: r.outputCostNanos,
    total_cost_nanos: r.totalCostNanos,
    priced: r.priced,
    price_source: r.priceSource,
    estimated: r.estimated,
    cached: r.cached,
    latency_ms: r.latencyMs,
    error: r.error,
    error_message: r.errorMessage,
    run_id: r.runId,
    parent_run_id: r.parentRunId,
    tags: r.tags,
    dimensions: r.dimensions,
    request_metadata: r.requestMetadata,
  };
}

/**
 * Reads a stored document back. Tolerant of documents written by other tools into
 * the same `token_usage` schema: missing numeric fields read as 0, missing cost
 * nanos are derived from the USD figure.
 */
export function fromStored(d: Partial<StoredUsageRecord> & Record<string, unknown>): UsageRecord {
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : Number(v ?? 0) || 0);
  const nanos = (n: unknown, usd: unknown) =>
    n === undefined || n === null ? Math.round(num(usd) * NANOS_PER_USD) : num(n);
  const bool = (v: unknown) => v === true || v === 1 || v === "1" || v === "true";
  const inputTokens = num(d.input_tokens);
  const outputTokens = num(d.output_tokens);
  const inputCostNanos = nanos(d.input_cost_nanos, d.input_cost);
  const outputCostNanos = nanos(d.output_cost_nanos, d.output_cost);
  const totalCostNanos = nanos(d.total_cost_nanos, d.total_cost);
  return {
    id: String(d.id),
    userId: String(d.user_id),
    threadId: d.thread_id ?? null,
    agentName: d.agent_name ?? null,
    operationType: (d.operation_type ?? "chat") as UsageRecord["operationType"],
    provider: String(d.provider ?? "unknown"),
    model: String(d.model ?? "unknown"),
    deployment: d.deployment ?? null,
    timestamp: String(d.timestamp),
    inputTokens,
    outputTokens,
    totalTokens: d.total_tokens === undefined ? inputTokens + outputTokens : num(d.total_tokens),
    cacheReadTokens: num(d.cache_read_tokens),
    cacheWriteTokens: num(d.cache_write_tokens),
    reasoningTokens: num(d.reasoning_tokens),
    inputCost: nanosToUsd(inputCostNanos),
    outputCost: nanosToUsd(outputCostNanos),
    totalCost: nanosToUsd(totalCostNanos),
    inputCostNanos,
    outputCostNanos,
    totalCostNanos,
    priced: d.priced === undefined ? true : bool(d.priced),
    priceSource: d.price_source ?? null,
    estimated: bool(d.estimated),
    cached: bool(d.cached),
    latencyMs: d.latency_ms === undefined || d.latency_ms === null ? null : num(d.latency_ms),
    error: bool(d.error),
    errorMessage: d.error_message ?? null,
    runId: d.run_id ?? null,
    parentRunId: d.parent_run_id ?? null,
    tags: Array.isArray(d.tags) ? d.tags.map(String) : [],
    dimensions: isPlainObject(d.dimensions) ? (d.dimensions as Record<string, string>) : {},
    requestMetadata: isPlainObject(d.request_metadata) ? (d.request_metadata as Record<string, unknown>) : {},
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
