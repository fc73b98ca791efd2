/**
 * Metric attributes of one usage record, following the OpenTelemetry GenAI semantic
 * conventions as of semconv 1.37 (`gen_ai.provider.name`; 1.36 and earlier called it
 * `gen_ai.system`). Identities (user, thread, agent, dimensions) are opt-in: each distinct
 * value is a separate time series in every backend, so they are off by default.
 */
import type { Attributes } from "@opentelemetry/api";
import type { UsageRecord } from "../record/types.js";

export interface TelemetryAttributeOptions {
  /** Adds `user.id`. One series per user: only for a bounded set of users. @default false */
  user?: boolean;
  /** Adds `gen_ai.conversation.id` (the thread). One series per thread: unbounded. @default false */
  thread?: boolean;
  /** Adds `gen_ai.agent.name`. @default false */
  agent?: boolean;
  /** Adds `token_tracking.dimension.<key>` for these keys (or every key with `true`). @default none */
  dimensions?: boolean | string[];
}

/** This package's provider ids to the convention's `gen_ai.provider.name` values; others pass through. */
const PROVIDER_NAMES: Record<string, string> = {
  openai: "openai",
  azure: "azure.ai.openai",
  anthropic: "anthropic",
  google: "gcp.gen_ai",
  bedrock: "aws.bedrock",
  aws: "aws.bedrock",
  mistral: "mistral_ai",
  mistralai: "mistral_ai",
  cohere: "cohere",
  groq: "groq",
  deepseek: "deepseek",
  xai: "x_ai",
  perplexity: "perplexity",
};

const OPERATION_NAMES: Record<UsageRecord["operationType"], string> = {
  chat: "chat",
  llm: "text_completion",
  embedding: "embeddings",
};

/** The attribute set of a record; `errorType` is added by the duration metric only. */
export function recordAttributes(r: UsageRecord, opts: TelemetryAttributeOptions): Attributes {
  const attrs: Attributes = {
    "gen_ai.operation.name": OPERATION_NAMES[r.operationType] ?? r.operationType,
    "gen_ai.provider.name": PROVIDER_NAMES[r.provider] ?? r.provider,
    // The record keeps what the provider answered with; what was asked for differs only
    // when the call named a deployment (Azure), which is then the requested "model".
    "gen_ai.request.model": r.deployment ?? r.model,
    "gen_ai.response.model": r.model,
  };
  if (opts.user) attrs["user.id"] = r.userId;
  if (opts.thread && r.threadId) attrs["gen_ai.conversation.id"] = r.threadId;
  if (opts.agent && r.agentName) attrs["gen_ai.agent.name"] = r.agentName;
  if (opts.dimensions) {
    const keys = opts.dimensions === true ? Object.keys(r.dimensions) : opts.dimensions;
    for (const key of keys) {
      const value = r.dimensions[key];
      if (value !== undefined) attrs[`token_tracking.dimension.${key}`] = value;
    }
  }
  return attrs;
}
