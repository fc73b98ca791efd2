/**
 * Turns a usage description (from the handler, `trackUsage`, an import) into a
 * validated, priced `UsageRecord`. Every check names the field it rejects.
 */
import { v4 as uuidv4 } from "uuid";
import { ValidationError } from "../errors.js";
import type { Pricer } from "../pricing/types.js";
import { isoFromEpochMs } from "./iso-time.js";
import { redactSecrets } from "./redact-secrets.js";
import { sanitizeMetadata } from "./sanitize-metadata.js";
import { ANONYMOUS_USER, type OperationType, type UsageRecord } from "./types.js";

/** Larger than any context window sold today: a count above it is a bug upstream. */
export const MAX_TOKENS_PER_CALL = 1_000_000_000;
/** Ids are user-supplied data; this bound keeps them storable on every backend. */
export const MAX_ID_LENGTH = 1024;
/** What a record id may be on every backend (Cosmos refuses "/", "\\", "?", "#" and more than 255 characters). */
export const RECORD_ID = /^[^/\\?#]{1,255}$/;
const OPERATIONS: readonly OperationType[] = ["chat", "llm", "embedding"];
/** 2000-01-01 and 10000-01-01 UTC: the years a record may carry. */
const MIN_TIMESTAMP_MS = Date.UTC(2000, 0, 1);
const MAX_TIMESTAMP_MS = Date.UTC(10000, 0, 1);

export interface UsageInput {
  /** Makes the write idempotent: the same id is stored once. Default: a new UUID. */
  id?: string;
  userId?: string | null;
  threadId?: string | null;
  agentName?: string | null;
  provider: string;
  model: string;
  deployment?: string | null;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
  operation?: OperationType;
  timestamp?: Date | string | number;
  error?: boolean;
  errorMessage?: string | null;
  estimated?: boolean;
  cached?: boolean;
  latencyMs?: number | null;
  runId?: string | null;
  parentRunId?: string | null;
  tags?: string[];
  dimensions?: Record<string, string>;
  metadata?: Record<string, unknown>;
}

export function buildRecord(input: UsageInput, pricer: Pricer): UsageRecord {
  if (typeof input !== "object" || input === null) throw new ValidationError("usage", "expected an object");
  const provider = requiredString(input.provider, "provider");
  const model = requiredString(input.model, "model");
  const inputTokens = tokenCount(input.inputTokens, "inputTokens");
  const outputTokens = tokenCount(input.outputTokens, "outputTokens");
  const cacheReadTokens = tokenCount(input.cacheReadTokens ?? 0, "cacheReadTokens");
  const cacheWriteTokens = tokenCount(input.cacheWriteTokens ?? 0, "cacheWriteTokens");
  const reasoningTokens = tokenCount(input.reasoningTokens ?? 0, "reasoningTokens");
  if (cacheReadTokens + cacheWriteTokens > inputTokens) {
    throw new ValidationError(
      cacheReadTokens > inputTokens || cacheWriteTokens === 0 ? "cacheReadTokens" : "cacheWriteTokens",
      `cache reads (${cacheReadTokens}) plus cache writes (${cacheWriteTokens}) exceed inputTokens (${inputTokens}); input counts are inclusive`,
    );
  }
  if (reasoningTokens > outputTokens) {
    throw new ValidationError("reasoningTokens", `${reasoningTokens} exceeds outputTokens (${outputTokens}); output counts are inclusive`);
  }
  const operation = input.operation ?? "chat";
  if (!OPERATIONS.includes(operation)) {
    throw new ValidationError("operation", `must be one of ${OPERATIONS.join(", ")}, got ${JSON.stringify(operation)}`);
  }
  const id = input.id === undefined ? uuidv4() : requiredString(input.id, "id");
  if (!RECORD_ID.test(id)) throw new ValidationError("id", "must be 1-255 characters without / \\ ? #");
  const timestamp = isoTimestamp(input.timestamp);
  const deployment = optionalString(input.deployment, "deployment");
  const error = input.error === true;
  const cached = input.cached === true;

  const cost = cached
    ? null
    : pricer.price({ inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, reasoningTokens }, {
        model,
        provider,
        deployment,
        timestamp,
      });
  return {
    id,
    userId: optionalString(input.userId, "userId") ?? ANONYMOUS_USER,
    threadId: optionalString(input.threadId, "threadId"),
    agentName: optionalString(input.agentName, "agentName"),
    operationType: operation,
    provider,
    model,
    deployment,
    timestamp,
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
    cacheReadTokens,
    cacheWriteTokens,
    reasoningTokens,
    inputCost: cost?.inputCost ?? 0,
    outputCost: cost?.outputCost ?? 0,
    totalCost: cost?.totalCost ?? 0,
    inputCostNanos: cost?.inputCostNanos ?? 0,
    outputCostNanos: cost?.outputCostNanos ?? 0,
    totalCostNanos: cost?.totalCostNanos ?? 0,
    // A cache hit never reached the provider: it is correctly priced at zero.
    priced: cached ? true : (cost?.priced ?? false),
    priceSource: cached ? "cache-hit" : (cost?.priceSource ?? null),
    estimated: input.estimated === true,
    cached,
    latencyMs: latency(input.latencyMs),
    error,
    // Provider errors echo request headers ("Bearer sk-..."): credentials are never stored.
    errorMessage: error ? redactSecrets(optionalString(input.errorMessage, "errorMessage", 4096, true) ?? "unknown error") : null,
    runId: optionalString(input.runId, "runId"),
    parentRunId: optionalString(input.parentRunId, "parentRunId"),
    tags: stringList(input.tags, "tags"),
    dimensions: dimensionMap(input.dimensions),
    requestMetadata: sanitizeMetadata(input.metadata ?? {}),
  };
}

function requiredString(value: unknown, field: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new ValidationError(field, `must be a non-empty string, got ${describe(value)}`);
  }
  if (value.length > MAX_ID_LENGTH) throw new ValidationError(field, `is longer than ${MAX_ID_LENGTH} characters`);
  return value;
}

function optionalString(value: unknown, field: string, max = MAX_ID_LENGTH, truncate = false): string | null {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string") throw new ValidationError(field, `must be a string, got ${describe(value)}`);
  if (value.length > max) {
    if (truncate) return value.slice(0, max);
    throw new ValidationError(field, `is longer than ${max} characters`);
  }
  return value;
}

function tokenCount(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new ValidationError(field, `must be a non-negative integer, got ${describe(value)}`);
  }
  if (value > MAX_TOKENS_PER_CALL) {
    throw new ValidationError(field, `${value} exceeds ${MAX_TOKENS_PER_CALL} tokens for one call`);
  }
  return value;
}

function latency(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new ValidationError("latencyMs", `must be a non-negative number, got ${describe(value)}`);
  }
  return value;
}

function isoTimestamp(value: unknown): string {
  if (value === undefined || value === null) return isoFromEpochMs(Date.now());
  // Epoch milliseconds (the handler's): formatted without a Date, years 2000-9999 only.
  if (typeof value === "number" && Number.isInteger(value) && value >= MIN_TIMESTAMP_MS && value < MAX_TIMESTAMP_MS) return isoFromEpochMs(value);
  const date = value instanceof Date ? value : typeof value === "string" || typeof value === "number" ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw new ValidationError("timestamp", `must be a Date, an ISO 8601 string or epoch milliseconds, got ${describe(value)}`);
  }
  const year = date.getUTCFullYear();
  if (year < 2000 || year > 9999) throw new ValidationError("timestamp", `year ${year} is out of range`);
  return date.toISOString();
}

function stringList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ValidationError(field, `must be an array of strings, got ${describe(value)}`);
  if (value.length === 0) return []; // most calls carry no tags
  return value.filter((v): v is string => typeof v === "string").slice(0, 50).map((v) => redactSecrets(v.slice(0, 512)).slice(0, 256));
}

const DIMENSION_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function dimensionMap(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ValidationError("dimensions", `must be an object of strings, got ${describe(value)}`);
  }
  const out: Record<string, string> = {};
  if (isEmpty(value)) return out; // most calls carry none
  for (const [key, v] of Object.entries(value)) {
    if (!DIMENSION_NAME.test(key)) throw new ValidationError(`dimensions.${key}`, "name must match [A-Za-z0-9_.-]{1,64}");
    if (v === undefined || v === null) continue;
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      throw new ValidationError(`dimensions.${key}`, `must be a string, got ${describe(v)}`);
    }
    const text = redactSecrets(String(v).slice(0, 512)).slice(0, 256);
    // A plain assignment to "__proto__" would set the prototype and lose the value.
    if (key === "__proto__") Object.defineProperty(out, key, { value: text, enumerable: true, writable: true, configurable: true });
    else out[key] = text;
  }
  return out;
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

function describe(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
