/** SQLite row <-> record: booleans as 0/1, arrays and objects as JSON text. */
import { fromStored, toStored } from "../../record/mapping.js";
import type { UsageRecord } from "../../record/types.js";

export interface RecordRow {
  id: string;
  user_id: string;
  thread_id: string | null;
  agent_name: string | null;
  operation_type: string;
  provider: string;
  model: string;
  deployment: string | null;
  timestamp: string;
  ts: number;
  day: string;
  month: string;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  input_cost: number;
  output_cost: number;
  total_cost: number;
  input_cost_nanos: number;
  output_cost_nanos: number;
  total_cost_nanos: number;
  priced: number;
  price_source: string | null;
  estimated: number;
  cached: number;
  latency_ms: number | null;
  error: number;
  error_message: string | null;
  run_id: string | null;
  parent_run_id: string | null;
  tags: string;
  dimensions: string;
  request_metadata: string;
}

export function recordToRow(record: UsageRecord): RecordRow {
  const s = toStored(record);
  return {
    ...s,
    ts: Date.parse(s.timestamp),
    priced: s.priced ? 1 : 0,
    estimated: s.estimated ? 1 : 0,
    cached: s.cached ? 1 : 0,
    error: s.error ? 1 : 0,
    tags: JSON.stringify(s.tags),
    dimensions: JSON.stringify(s.dimensions),
    request_metadata: JSON.stringify(s.request_metadata),
  };
}

export function rowToRecord(row: RecordRow): UsageRecord {
  return fromStored({
    ...row,
    operation_type: row.operation_type as UsageRecord["operationType"],
    priced: row.priced === 1,
    estimated: row.estimated === 1,
    cached: row.cached === 1,
    error: row.error === 1,
    tags: JSON.parse(row.tags),
    dimensions: JSON.parse(row.dimensions),
    request_metadata: JSON.parse(row.request_metadata),
  });
}

/**
 * The insert's values, in column order, built in one pass: this runs for every record
 * written, and going through the snake_case object first costs several microseconds.
 */
export function recordToValues(r: UsageRecord): unknown[] {
  const t = r.timestamp;
  return [
    r.id,
    r.userId,
    r.threadId,
    r.agentName,
    r.operationType,
    r.provider,
    r.model,
    r.deployment,
    t,
    Date.parse(t),
    t.slice(0, 10),
    t.slice(0, 7),
    r.inputTokens,
    r.outputTokens,
    r.totalTokens,
    r.cacheReadTokens,
    r.cacheWriteTokens,
    r.reasoningTokens,
    r.inputCost,
    r.outputCost,
    r.totalCost,
    r.inputCostNanos,
    r.outputCostNanos,
    r.totalCostNanos,
    r.priced ? 1 : 0,
    r.priceSource,
    r.estimated ? 1 : 0,
    r.cached ? 1 : 0,
    r.latencyMs,
    r.error ? 1 : 0,
    r.errorMessage,
    r.runId,
    r.parentRunId,
    r.tags.length === 0 ? "[]" : JSON.stringify(r.tags),
    isEmpty(r.dimensions) ? "{}" : JSON.stringify(r.dimensions),
    isEmpty(r.requestMetadata) ? "{}" : JSON.stringify(r.requestMetadata),
  ];
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}
