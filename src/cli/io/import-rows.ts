/**
 * Turns an imported row (CSV cells or a JSON object) into a validated record.
 *
 * Our own export format (snake_case stored fields) comes back exactly, stored
 * costs included. Rows from other tools are accepted too: camelCase names and the
 * reference monitors' columns (`prompt_tokens`, `completion_tokens`, `tokens`,
 * `session_id`, `feature`, `cost_usd`, ...); those rows are priced with the current
 * catalog, because their recorded cost may come from a guessed model's price.
 */
import { createHash } from "node:crypto";
import { ValidationError } from "../../errors.js";
import type { CostResult, Pricer } from "../../pricing/types.js";
import { buildRecord, type UsageInput } from "../../record/build-record.js";
import { nanosToUsd } from "../../record/mapping.js";
import type { UsageRecord } from "../../record/types.js";

/** Column aliases from other tools, mapped onto our snake_case names. */
const ALIASES: Record<string, string> = {
  prompt_tokens: "input_tokens",
  completion_tokens: "output_tokens",
  tokens: "input_tokens",
  session_id: "thread_id",
  conversation_id: "thread_id",
  user: "user_id",
  agent: "agent_name",
  operation: "operation_type",
  service_type: "operation_type",
  type: "operation_type",
  created_at: "timestamp",
  date: "timestamp",
  metadata: "request_metadata",
};

const OPERATIONS = new Set(["chat", "llm", "embedding"]);

function snake(name: string): string {
  return name.trim().replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Lower-snake-cases the keys and applies the aliases (an explicit column wins over an alias). */
export function normalizeRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const aliased: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    const name = snake(key);
    if (ALIASES[name] && !(name in out)) aliased[ALIASES[name]] ??= value;
    else out[name] = value;
  }
  for (const [name, value] of Object.entries(aliased)) if (out[name] === undefined || out[name] === "") out[name] = value;
  return out;
}

const blank = (v: unknown) => v === undefined || v === null || v === "";

function text(v: unknown): string | null {
  return blank(v) ? null : String(v);
}

function num(v: unknown): unknown {
  if (blank(v)) return undefined;
  if (typeof v === "string" && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v.trim())) return Number(v);
  return v; // left as is so buildRecord names the field it rejects
}

function bool(v: unknown, field: string): boolean | undefined {
  if (blank(v)) return undefined;
  if (v === true || v === false) return v;
  const s = String(v).trim().toLowerCase();
  if (["true", "1", "yes"].includes(s)) return true;
  if (["false", "0", "no"].includes(s)) return false;
  throw new ValidationError(field, `must be true or false, got ${JSON.stringify(v)}`);
}

function json(v: unknown, field: string): unknown {
  if (blank(v)) return undefined;
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    throw new ValidationError(field, "must be JSON");
  }
}

/** SQLite's `YYYY-MM-DD HH:MM:SS` (UTC, no zone) is read as UTC, not local time. */
function timestamp(v: unknown): unknown {
  if (blank(v)) return undefined;
  if (typeof v === "string") {
    const s = v.trim();
    if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) return `${s.replace(" ", "T")}Z`;
    if (/^\d{10,13}$/.test(s)) return Number(s);
    return s;
  }
  return v;
}

function operation(v: unknown): UsageInput["operation"] {
  const s = text(v)?.toLowerCase();
  return s && OPERATIONS.has(s) ? (s as UsageInput["operation"]) : undefined;
}

/**
 * A record id for rows that carry none: derived from the row's position and content,
 * so importing the same file twice stores each row once.
 */
function derivedId(row: Record<string, unknown>, index: number): string {
  return `import-${createHash("sha256").update(`${index}\u0000${JSON.stringify(row)}`).digest("hex").slice(0, 32)}`;
}

export function rowToRecord(raw: Record<string, unknown>, index: number, pricer: Pricer): UsageRecord {
  const r = normalizeRow(raw);
  const dimensions = (json(r.dimensions, "dimensions") as Record<string, string> | undefined) ?? {};
  if (!blank(r.feature) && dimensions.feature === undefined) dimensions.feature = String(r.feature);
  const input: UsageInput = {
    id: text(r.id) ?? derivedId(raw, index),
    userId: text(r.user_id),
    threadId: text(r.thread_id),
    agentName: text(r.agent_name),
    provider: text(r.provider) as string,
    model: text(r.model) as string,
    deployment: text(r.deployment),
    inputTokens: (num(r.input_tokens) ?? 0) as number,
    outputTokens: (num(r.output_tokens) ?? 0) as number,
    cacheReadTokens: num(r.cache_read_tokens) as number | undefined,
    cacheWriteTokens: num(r.cache_write_tokens) as number | undefined,
    reasoningTokens: num(r.reasoning_tokens) as number | undefined,
    operation: operation(r.operation_type),
    timestamp: timestamp(r.timestamp) as string | undefined,
    error: bool(r.error, "error"),
    errorMessage: text(r.error_message),
    estimated: bool(r.estimated, "estimated"),
    cached: bool(r.cached, "cached"),
    latencyMs: num(r.latency_ms) as number | undefined,
    runId: text(r.run_id),
    parentRunId: text(r.parent_run_id),
    tags: json(r.tags, "tags") as string[] | undefined,
    dimensions,
    metadata: json(r.request_metadata, "request_metadata") as Record<string, unknown> | undefined,
  };
  // Our own export carries its stored cost: keep it exactly (re-pricing is a
  // separate, explicit step), and do not ask the catalog about its models at all.
  return buildRecord(input, blank(r.total_cost_nanos) ? pricer : storedCostPricer(r));
}

function storedCostPricer(r: Record<string, unknown>): Pricer {
  const inputCostNanos = wholeNanos(r.input_cost_nanos, "input_cost_nanos");
  const outputCostNanos = wholeNanos(r.output_cost_nanos, "output_cost_nanos");
  const totalCostNanos = wholeNanos(r.total_cost_nanos, "total_cost_nanos");
  const priced = bool(r.priced, "priced") ?? true;
  const cost: CostResult = {
    inputCostNanos,
    outputCostNanos,
    totalCostNanos,
    inputCost: nanosToUsd(inputCostNanos),
    outputCost: nanosToUsd(outputCostNanos),
    totalCost: nanosToUsd(totalCostNanos),
    priced,
    priceSource: text(r.price_source),
    matchedModel: null,
    matchedProvider: null,
  };
  return { price: () => cost };
}

function wholeNanos(v: unknown, field: string): number {
  const n = num(v ?? 0) ?? 0;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw new ValidationError(field, `must be a whole number of nano-dollars, got ${JSON.stringify(v)}`);
  return n;
}
