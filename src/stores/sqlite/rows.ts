/** SQLite row <-> record: booleans as 0/1, arrays and objects as JSON text. */
import { ValidationError } from "../../errors.js";
import { epochMsFromIso } from "../../record/iso-time.js";
import { fromStored } from "../../record/mapping.js";
import type { StoredUsageRecord, UsageRecord } from "../../record/types.js";

/** A row as SQLite returns it: the stored record with 0/1 flags, JSON text and the epoch-ms `ts`. */
export type RecordRow = Omit<
  StoredUsageRecord,
  "operation_type" | "priced" | "estimated" | "cached" | "error" | "tags" | "dimensions" | "request_metadata"
> & {
  operation_type: string;
  ts: number;
  priced: number;
  estimated: number;
  cached: number;
  error: number;
  tags: string;
  dimensions: string;
  request_metadata: string;
};

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

/** A record as the insert's values, in the table's column order (see `recordToValues`). */
export type RecordValues = unknown[];

/** Columns of `usage_records`: the length of every row given to the insert. */
export const RECORD_COLUMNS = 36;

/** Where each column sits in a row (the table's column order, as `recordToValues` builds it). */
export const COL = {
  id: 0,
  user_id: 1,
  thread_id: 2,
  agent_name: 3,
  operation_type: 4,
  provider: 5,
  model: 6,
  timestamp: 8,
  day: 10,
  input_tokens: 12,
  output_tokens: 13,
  total_tokens: 14,
  cache_read_tokens: 15,
  cache_write_tokens: 16,
  reasoning_tokens: 17,
  total_cost_nanos: 23,
  priced: 24,
  estimated: 26,
  cached: 27,
  error: 29,
} as const;

/** What the SQLite stores require of a record before writing it, naming the one refused. */
export function checkAppendable(records: readonly UsageRecord[]): void {
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (typeof r.id !== "string" || r.id === "") throw new ValidationError(`records[${i}].id`, "must be a non-empty string");
    if (typeof r.userId !== "string" || r.userId === "") throw new ValidationError(`records[${i}].userId`, "must be a non-empty string");
  }
}

/**
 * The insert's values, in column order, built in one pass: this runs for every record
 * written, and going through the snake_case object first costs several microseconds.
 */
export function recordToValues(r: UsageRecord): RecordValues {
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
    epochMsFromIso(t),
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
