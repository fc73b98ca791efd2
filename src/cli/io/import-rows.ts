/**
 * Turns an imported row (CSV cells, a JSON object or a SQLite row) into a validated record.
 *
 * Our own export format (snake_case stored fields) comes back exactly, stored costs
 * included. Rows from other tools are accepted under their common column names
 * (see ALIASES); they are priced with the current catalog, because a cost another
 * tool recorded may come from a guessed model's price. Their own cost column is
 * kept only for a model the catalog cannot price.
 */
import { createHash } from "node:crypto";
import { ValidationError } from "../../errors.js";
import type { CostResult, Pricer } from "../../pricing/types.js";
import { buildRecord, type UsageInput } from "../../record/build-record.js";
import { nanosToUsd } from "../../record/mapping.js";
import type { UsageRecord } from "../../record/types.js";
import { inferProvider } from "./infer-provider.js";
import { blank, bool, json, jsonObject, num, text, timestamp, usdToNanos, wholeNanos } from "./row-values.js";

/** Other tools' column names (after snake-casing), mapped onto ours. */
const ALIASES: Record<string, string> = {
  prompt_tokens: "input_tokens",
  completion_tokens: "output_tokens",
  input_usage: "input_tokens",
  output_usage: "output_tokens",
  tokens: "input_tokens",
  session_id: "thread_id",
  conversation_id: "thread_id",
  user: "user_id",
  username: "user_id",
  user_name: "user_id",
  user_email: "user_id",
  agent: "agent_name",
  model_name: "model",
  model_id: "model",
  model_provider: "provider",
  ls_provider: "provider",
  type: "service_type",
  created_at: "timestamp",
  start_time: "timestamp",
  request_created_at: "timestamp",
  time: "timestamp",
  date: "timestamp",
  metadata: "request_metadata",
  cost_usd: "cost",
  total_cost_usd: "cost",
  calculated_total_cost: "cost",
  prompt_cost: "input_cost",
  completion_cost: "output_cost",
  calculated_input_cost: "input_cost",
  calculated_output_cost: "output_cost",
};

const OPERATIONS = new Set(["chat", "llm", "embedding"]);

function snake(name: string): string {
  return name.trim().replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

export interface NormalizedRow {
  values: Record<string, unknown>;
  /** Our column name -> the row's own, so an error names the column the user wrote. */
  columns: Record<string, string>;
}

/** Lower-snake-cases the keys and applies the aliases (an explicit column wins over an alias). */
export function normalizeRow(row: Record<string, unknown>): NormalizedRow {
  const values: Record<string, unknown> = {};
  const columns: Record<string, string> = {};
  const aliased: Array<[string, unknown, string]> = [];
  for (const [key, value] of Object.entries(row)) {
    const name = snake(key);
    if (ALIASES[name]) aliased.push([ALIASES[name], value, key]);
    else {
      values[name] = value;
      columns[name] = key;
    }
  }
  for (const [name, value, key] of aliased) {
    if (blank(values[name]) && !blank(value)) {
      values[name] = value;
      columns[name] = key;
    }
  }
  return { values, columns };
}

/** `inputTokens` -> `input_tokens` -> the row's own column name (`prompt_tokens`). */
export function columnName(field: string, columns: Record<string, string>): string {
  const [head, ...rest] = field.split(".");
  const name = head.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const mapped = columns[name] ?? columns[FIELD_COLUMNS[name] ?? ""] ?? name;
  return [mapped, ...rest].join(".");
}

/** Record fields whose column has another name. */
const FIELD_COLUMNS: Record<string, string> = { metadata: "request_metadata", operation: "operation_type" };

/** A record id for rows that carry none: derived from the row's position and content, so importing the same file twice stores each row once. */
function derivedId(row: Record<string, unknown>, index: number): string {
  const content = JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return `import-${createHash("sha256").update(`${index}\u0000${content}`).digest("hex").slice(0, 32)}`;
}

/**
 * The operation type and the dimensions a row's `operation_type`, `operation`,
 * `service_type` and `feature` columns give: an application's own operation name
 * (`extract_nodes`) and service type (`reranking`) are kept as dimensions.
 */
function operationAndDimensions(r: Record<string, unknown>): { operation: UsageInput["operation"]; dimensions: Record<string, string> } {
  const dimensions = { ...((jsonObject(r.dimensions, "dimensions") as Record<string, string> | undefined) ?? {}) };
  let operation: UsageInput["operation"];
  for (const column of ["operation_type", "operation", "service_type"]) {
    const value = text(r[column], column);
    if (value === null) continue;
    const lower = value.toLowerCase();
    if (column === "service_type" && lower === "llm") operation ??= "chat";
    else if (OPERATIONS.has(lower)) operation ??= lower as UsageInput["operation"];
    if (column !== "operation_type" && !(column === "operation" && OPERATIONS.has(lower))) dimensions[column] ??= value;
  }
  const feature = text(r.feature, "feature");
  if (feature !== null) dimensions.feature ??= feature;
  return { operation, dimensions };
}

/** `openai_embed` (the reference monitor's embedding providers) is `openai`. */
function providerOf(r: Record<string, unknown>, model: string | null): string | null {
  const given = text(r.provider, "provider");
  if (given !== null) return given.replace(/_embed$/i, "");
  if (model === null) return null;
  const inferred = inferProvider(model);
  if (inferred === undefined) {
    throw new ValidationError("provider", `is missing and the model ${JSON.stringify(model)} does not settle it (several providers serve it, or it is unknown): add a provider column`);
  }
  return inferred;
}

export function rowToRecord(raw: Record<string, unknown>, index: number, pricer: Pricer): UsageRecord {
  const { values: r } = normalizeRow(raw);
  const { operation, dimensions } = operationAndDimensions(r);
  const model = text(r.model, "model");
  const input: UsageInput = {
    id: text(r.id, "id") ?? derivedId(raw, index),
    userId: text(r.user_id, "user_id"),
    threadId: text(r.thread_id, "thread_id"),
    agentName: text(r.agent_name, "agent_name"),
    provider: providerOf(r, model) as string,
    model: model as string,
    deployment: text(r.deployment, "deployment"),
    inputTokens: (num(r.input_tokens) ?? 0) as number,
    outputTokens: (num(r.output_tokens) ?? 0) as number,
    cacheReadTokens: num(r.cache_read_tokens) as number | undefined,
    cacheWriteTokens: num(r.cache_write_tokens) as number | undefined,
    reasoningTokens: num(r.reasoning_tokens) as number | undefined,
    operation,
    timestamp: timestamp(r.timestamp, "timestamp"),
    error: bool(r.error, "error"),
    errorMessage: text(r.error_message, "error_message"),
    estimated: bool(r.estimated, "estimated"),
    cached: bool(r.cached, "cached"),
    latencyMs: num(r.latency_ms) as number | undefined,
    runId: text(r.run_id, "run_id"),
    parentRunId: text(r.parent_run_id, "parent_run_id"),
    tags: json(r.tags, "tags") as string[] | undefined,
    dimensions,
    metadata: jsonObject(r.request_metadata, "request_metadata"),
  };
  // Our own export carries its stored cost: kept exactly (re-pricing is a separate,
  // explicit step), and the catalog is not asked about its models at all.
  return buildRecord(input, blank(r.total_cost_nanos) ? fileCostFallback(r, pricer, input) : storedCostPricer(r));
}

function costResult(inputCostNanos: number, outputCostNanos: number, priced: boolean, priceSource: string | null): CostResult {
  const totalCostNanos = inputCostNanos + outputCostNanos;
  return {
    inputCostNanos,
    outputCostNanos,
    totalCostNanos,
    inputCost: nanosToUsd(inputCostNanos),
    outputCost: nanosToUsd(outputCostNanos),
    totalCost: nanosToUsd(totalCostNanos),
    priced,
    priceSource,
    matchedModel: null,
    matchedProvider: null,
  };
}

function storedCostPricer(r: Record<string, unknown>): Pricer {
  const inputCostNanos = wholeNanos(r.input_cost_nanos, "input_cost_nanos");
  const outputCostNanos = wholeNanos(r.output_cost_nanos, "output_cost_nanos");
  const totalCostNanos = wholeNanos(r.total_cost_nanos, "total_cost_nanos");
  if (totalCostNanos !== inputCostNanos + outputCostNanos) {
    throw new ValidationError(
      "total_cost_nanos",
      `${totalCostNanos} contradicts input_cost_nanos + output_cost_nanos (${inputCostNanos} + ${outputCostNanos} = ${inputCostNanos + outputCostNanos})`,
    );
  }
  const cost = costResult(inputCostNanos, outputCostNanos, bool(r.priced, "priced") ?? true, text(r.price_source, "price_source"));
  return { price: () => cost };
}

/**
 * The catalog's price; for a model it cannot price, the row's own cost columns
 * (`cost`/`cost_usd`, or `input_cost` + `output_cost`), marked `priceSource: "import"`.
 * A lone total is split between input and output by their token shares.
 */
function fileCostFallback(r: Record<string, unknown>, pricer: Pricer, input: UsageInput): Pricer {
  const inputNanos = usdToNanos(r.input_cost, "input_cost");
  const outputNanos = usdToNanos(r.output_cost, "output_cost");
  const totalNanos = usdToNanos(r.cost, "cost") ?? usdToNanos(r.total_cost, "total_cost");
  if (inputNanos === undefined && outputNanos === undefined && totalNanos === undefined) return pricer;
  return {
    price(tokens, context) {
      const catalog = pricer.price(tokens, context);
      if (catalog.priced) return catalog;
      if (inputNanos !== undefined || outputNanos !== undefined) return costResult(inputNanos ?? 0, outputNanos ?? 0, true, "import");
      const tokensIn = Number(input.inputTokens) || 0;
      const share = tokensIn + (Number(input.outputTokens) || 0);
      const inShare = share === 0 ? totalNanos! : Math.round((totalNanos! * tokensIn) / share);
      return costResult(inShare, totalNanos! - inShare, true, "import");
    },
  };
}
