/**
 * The usage objects a callback may carry, each read into the same counts (input and output
 * inclusive of their cache and reasoning parts): LangChain's `usage_metadata`, its camelCase
 * `tokenUsage`, and the providers' own usage objects told apart by their field names. Which
 * source wins, and the corrections applied after, are in extract-usage.ts. Never throw.
 */
import { asCount, asDict, read, readPath } from "./extract-safe.js";
import type { Counts } from "./total-consistency.js";

/** LangChain's UsageMetadata: input_tokens/output_tokens inclusive, details as breakdowns. */
export function fromUsageMetadata(value: unknown): Counts | undefined {
  const u = asDict(value);
  const input = asCount(read(u, "input_tokens"));
  const out = asCount(read(u, "output_tokens"));
  if (input === undefined || out === undefined) return undefined;
  const inDetails = read(u, "input_token_details");
  const outDetails = read(u, "output_token_details");
  return {
    input,
    output: out,
    total: asCount(read(u, "total_tokens")),
    cacheRead: asCount(read(inDetails, "cache_read")) ?? 0,
    cacheWrite: asCount(read(inDetails, "cache_creation")) ?? 0,
    reasoning: asCount(read(outDetails, "reasoning")) ?? 0,
  };
}

/** `{ promptTokens, completionTokens, totalTokens }` (llmOutput.tokenUsage / estimatedTokenUsage). */
export function fromCamelCase(value: unknown): Counts | undefined {
  const u = asDict(value);
  const input = asCount(read(u, "promptTokens"));
  const out = asCount(read(u, "completionTokens"));
  if (input === undefined || out === undefined) return undefined;
  return { input, output: out, total: asCount(read(u, "totalTokens")), cacheRead: 0, cacheWrite: 0, reasoning: 0 };
}

/** A provider's own usage object, recognised by its field names. */
export function fromRawProviderUsage(value: unknown): Counts | undefined {
  const u = asDict(value);
  if (!u) return undefined;
  // OpenAI Chat Completions: prompt tokens include cached ones.
  const prompt = asCount(read(u, "prompt_tokens"));
  const completion = asCount(read(u, "completion_tokens"));
  if (prompt !== undefined && completion !== undefined) {
    return {
      input: prompt,
      output: completion,
      total: asCount(read(u, "total_tokens")),
      cacheRead: asCount(readPath(u, "prompt_tokens_details", "cached_tokens")) ?? 0,
      cacheWrite: 0,
      reasoning: asCount(readPath(u, "completion_tokens_details", "reasoning_tokens")) ?? 0,
    };
  }
  // Bedrock Converse: inputTokens excludes cache reads and writes.
  const bedrockIn = asCount(read(u, "inputTokens"));
  const bedrockOut = asCount(read(u, "outputTokens"));
  if (bedrockIn !== undefined && bedrockOut !== undefined) {
    const cacheRead = asCount(read(u, "cacheReadInputTokens")) ?? 0;
    const cacheWrite = asCount(read(u, "cacheWriteInputTokens")) ?? 0;
    return { input: bedrockIn + cacheRead + cacheWrite, output: bedrockOut, total: asCount(read(u, "totalTokens")), cacheRead, cacheWrite, reasoning: 0 };
  }
  const input = asCount(read(u, "input_tokens"));
  const out = asCount(read(u, "output_tokens"));
  if (input === undefined || out === undefined) return undefined;
  // OpenAI Responses API: inclusive, with *_details and a total.
  if (read(u, "total_tokens") !== undefined || read(u, "input_tokens_details") !== undefined) {
    return {
      input,
      output: out,
      total: asCount(read(u, "total_tokens")),
      cacheRead: asCount(readPath(u, "input_tokens_details", "cached_tokens")) ?? 0,
      cacheWrite: 0,
      reasoning: asCount(readPath(u, "output_tokens_details", "reasoning_tokens")) ?? 0,
    };
  }
  // Anthropic Messages API: input_tokens EXCLUDES cache reads and cache creation.
  const cacheRead = asCount(read(u, "cache_read_input_tokens")) ?? 0;
  const cacheWrite = asCount(read(u, "cache_creation_input_tokens")) ?? 0;
  return { input: input + cacheRead + cacheWrite, output: out, cacheRead, cacheWrite, reasoning: 0 };
}
