/**
 * The usage record: one model call (or one embedding request), attributed and priced.
 * In TypeScript it is camelCase; what is persisted is snake_case (see `mapping.ts`),
 * so data already kept in the `token_usage` schema stays readable.
 */
export type OperationType = "chat" | "llm" | "embedding";

/** Placeholder user id for calls that carry no user: never a crash, always queryable. */
export const ANONYMOUS_USER = "anonymous";

export interface TokenCounts {
  /** Prompt tokens, inclusive of cache reads and cache writes. */
  inputTokens: number;
  /** Completion tokens, inclusive of reasoning tokens. */
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
}

export interface UsageRecord extends TokenCounts {
  /** The LangChain run id when there is one, so a replayed write is idempotent. */
  id: string;
  userId: string;
  threadId: string | null;
  agentName: string | null;
  operationType: OperationType;
  provider: string;
  model: string;
  /** Azure deployment name (or another provider's alias) kept apart from the model. */
  deployment: string | null;
  /** ISO 8601 UTC with milliseconds, e.g. `2026-11-23T08:00:00.000Z`. */
  timestamp: string;
  totalTokens: number;
  /** USD, rounded from the nano-dollar figures below (display only). */
  inputCost: number;
  outputCost: number;
  totalCost: number;
  /** Integer nano-dollars (1e-9 USD): the exact figures every sum is made from. */
  inputCostNanos: number;
  outputCostNanos: number;
  totalCostNanos: number;
  /** False when no price is known: cost is 0 and flagged, never a guessed model's price. */
  priced: boolean;
  /** Where the price came from, e.g. `genai-prices@0.1.8` or `override`. */
  priceSource: string | null;
  /** True when only an estimate of the usage existed (e.g. a tiktoken count). */
  estimated: boolean;
  /** True for a LangChain cache hit: no provider call, zero cost. */
  cached: boolean;
  latencyMs: number | null;
  error: boolean;
  errorMessage: string | null;
  runId: string | null;
  parentRunId: string | null;
  tags: string[];
  /** Charge-back keys such as tenant, department or feature. */
  dimensions: Record<string, string>;
  requestMetadata: Record<string, unknown>;
}

/** The persisted (snake_case) shape, with the derived `day` and `month` buckets (UTC). */
export interface StoredUsageRecord {
  id: string;
  user_id: string;
  thread_id: string | null;
  agent_name: string | null;
  operation_type: OperationType;
  provider: string;
  model: string;
  deployment: string | null;
  timestamp: string;
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
  priced: boolean;
  price_source: string | null;
  estimated: boolean;
  cached: boolean;
  latency_ms: number | null;
  error: boolean;
  error_message: string | null;
  run_id: string | null;
  parent_run_id: string | null;
  tags: string[];
  dimensions: Record<string, string>;
  request_metadata: Record<string, unknown>;
}
