/**
 * Token usage from what LangChain hands a callback handler's `handleLLMEnd`.
 *
 * Sources, in order of trust; the first one that yields a usable count wins and sources are never
 * added together:
 * 1. `generations[i][j].message.usage_metadata` (every current chat client fills it; input and
 *    output are inclusive, cache and reasoning are breakdowns).
 * 2. `llmOutput.tokenUsage` (camelCase, no breakdown).
 * 3. Raw provider usage in `llmOutput.usage` or `message.response_metadata.usage` (Anthropic's
 *    `input_tokens` EXCLUDES cache tokens, OpenAI's `prompt_tokens` includes them, Bedrock's
 *    camelCase `inputTokens` excludes them).
 * 4. `llmOutput.estimatedTokenUsage`: the real usage in the OpenAI Responses API path, a tiktoken
 *    estimate in the Chat Completions streaming path (`estimated: true`).
 *
 * Within one request (`generations[i]`, the `n` candidates) the usage is the request's usage,
 * repeated on each candidate: counted once. Separate prompts (`generations[0]`, `[1]`, ...) are
 * separate requests: summed.
 *
 * Corrections for known client behaviour (each pinned by `test/providers/provider-matrix.test.ts`):
 * - Google (Gemini) only: a total larger than input + output is thinking output the provider did not
 *   itemise (Gemini leaves `thoughtsTokenCount` out of `candidatesTokenCount`): output = total -
 *   input, reasoning = the gap, when the gap is at most `MAX_UNITEMISED_THINKING` per request;
 * - any other total that contradicts its parts (another provider, a gap past that bound, a total
 *   below the parts) is not believed: input and output stay as reported, the total is their sum,
 *   and `contradictedTotal` carries the reported total so the record can be flagged. The
 *   difference is never billed;
 * - Gemini streaming sums `cache_read` over every chunk: divided by the number of chunks when the
 *   handler observed the stream (see `observeStreamChunk`), always clamped to the input;
 * - Anthropic streaming adds `message_start`'s provisional `output_tokens` to the final cumulative
 *   count: subtracted when the handler observed that chunk.
 *
 * Never throws: malformed numbers (strings, NaN, negatives, fractions, > 1e9) count as absent.
 */
import { type Dict, asCount, asDict, asList, read, readPath } from "./extract-safe.js";
import { type Counts, maxThinkingGap, reconcileTotal } from "./total-consistency.js";
import { fromCamelCase, fromRawProviderUsage, fromUsageMetadata } from "./usage-shapes.js";

export { MAX_UNITEMISED_THINKING } from "./total-consistency.js";

export type UsageSource =
  | "usage_metadata"
  | "llm_output_token_usage"
  | "provider_raw_usage"
  | "estimated_token_usage"
  | "none";

export interface ExtractedUsage {
  /** Prompt tokens, inclusive of cache reads and writes. */
  inputTokens: number;
  /** Completion tokens, inclusive of reasoning. */
  outputTokens: number;
  totalTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** True only for a client-side estimate (tiktoken), never for provider-reported usage. */
  estimated: boolean;
  /** False when nothing usable was found; all counts are then 0. */
  found: boolean;
  /** Where the counts came from. */
  source: UsageSource;
  /**
   * The provider's total when it contradicted input + output and was not used (null otherwise).
   * The handler flags such records (`request_metadata.total_tokens_mismatch`).
   */
  contradictedTotal: number | null;
}

/**
 * What a handler saw of a streamed run through `handleLLMNewToken`, folded by `observeStreamChunk`.
 * It lets `extractUsage` undo the two streaming miscounts that the final LLMResult hides.
 */
export interface StreamObservation {
  /**
   * Number of `handleLLMNewToken` calls of the run. The Google GenAI client passes no chunk to
   * them, so this count is what reveals how many times its cumulative cache count was added.
   */
  chunks: number;
  /** Provisional `output_tokens` of the chunk built from Anthropic's `message_start` event. */
  anthropicStartOutputTokens?: number;
}

const EMPTY: ExtractedUsage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  totalTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
  estimated: false,
  found: false,
  source: "none",
  contradictedTotal: null,
}) as ExtractedUsage;

/**
 * Folds one `handleLLMNewToken` call into the run's observation. Pass the `fields` argument
 * (6th parameter, `{ chunk }` for most clients). Pure and never throws.
 */
export function observeStreamChunk(previous: StreamObservation | undefined, fields?: unknown): StreamObservation {
  const next: StreamObservation = { chunks: (previous?.chunks ?? 0) + 1 };
  if (previous?.anthropicStartOutputTokens !== undefined) {
    next.anthropicStartOutputTokens = previous.anthropicStartOutputTokens;
    return next;
  }
  try {
    const message = readPath(fields, "chunk", "message");
    // The chunk LangChain builds from Anthropic's `message_start` event: the message envelope
    // (`type: "message"`) in additional_kwargs, plus usage whose output_tokens is provisional.
    if (
      readPath(message, "response_metadata", "model_provider") === "anthropic" &&
      readPath(message, "additional_kwargs", "type") === "message"
    ) {
      const start = asCount(readPath(message, "usage_metadata", "output_tokens"));
      if (start !== undefined) next.anthropicStartOutputTokens = start;
    }
  } catch {
    // observation is best effort
  }
  return next;
}

/**
 * Usage of one model call from its LLMResult. `provider` is the run's `ls_provider` when known
 * (Gemini's invoke result names no provider itself). Never throws.
 */
export function extractUsage(output: unknown, stream?: StreamObservation, provider?: unknown): ExtractedUsage {
  try {
    return extract(output, stream, provider);
  } catch {
    return { ...EMPTY };
  }
}

/*
 * Runs on the agent's path (usage cannot wait: see the handler), so the common case (one
 * prompt, one generation with usage_metadata) allocates little: plain loops, no closures.
 */
function extract(output: unknown, stream: StreamObservation | undefined, providerHint: unknown): ExtractedUsage {
  const prompts = asList(read(output, "generations")).map((p) => (Array.isArray(p) ? asList(p) : [p]));
  const llmOutput = asDict(read(output, "llmOutput"));
  const provider = typeof providerHint === "string" ? providerHint : generationProvider(prompts);
  const maxGap = maxThinkingGap(provider, Math.max(1, prompts.length));

  let fromMetadata: Counts | undefined;
  for (const gens of prompts) {
    const counts = firstUsageMetadata(gens);
    if (counts) fromMetadata = add(fromMetadata, correctStreaming(counts, gens, stream));
  }
  if (fromMetadata) return finishCounts(fromMetadata, "usage_metadata", false, maxGap);

  const tokenUsage = fromCamelCase(read(llmOutput, "tokenUsage"));
  if (tokenUsage) return finishCounts(tokenUsage, "llm_output_token_usage", false, maxGap);

  let raw = fromRawProviderUsage(read(llmOutput, "usage"));
  if (!raw) {
    for (const gens of prompts) {
      for (const g of gens) {
        const counts = fromRawProviderUsage(readPath(g, "message", "response_metadata", "usage"));
        if (counts) {
          raw = add(raw, counts);
          break;
        }
      }
    }
  }
  if (raw) return finishCounts(raw, "provider_raw_usage", false, maxGap);

  const estimate = read(llmOutput, "estimatedTokenUsage");
  // Snake case there is a copy of the Responses API stream's usage_metadata: real usage.
  const snake = fromUsageMetadata(estimate);
  if (snake) return finishCounts(snake, "estimated_token_usage", false, maxGap);
  const camel = fromCamelCase(estimate);
  if (camel) return finishCounts(camel, "estimated_token_usage", !isResponsesApiResult(llmOutput, prompts), maxGap);

  return { ...EMPTY };
}

function generationProvider(prompts: unknown[][]): string | undefined {
  for (const gens of prompts) {
    for (const g of gens) {
      const p = readPath(g, "message", "response_metadata", "model_provider");
      if (typeof p === "string") return p;
    }
  }
  return undefined;
}

function firstUsageMetadata(gens: unknown[]): Counts | undefined {
  for (const g of gens) {
    const counts = fromUsageMetadata(readPath(g, "message", "usage_metadata"));
    if (counts) return counts;
  }
  return undefined;
}

/** Separate prompts are separate requests: their counts add up (a total only when both have one). */
function add(acc: Counts | undefined, c: Counts): Counts {
  if (!acc) return c;
  return {
    input: acc.input + c.input,
    output: acc.output + c.output,
    total: acc.total !== undefined && c.total !== undefined ? acc.total + c.total : undefined,
    cacheRead: acc.cacheRead + c.cacheRead,
    cacheWrite: acc.cacheWrite + c.cacheWrite,
    reasoning: acc.reasoning + c.reasoning,
  };
}

/** The Responses API puts real usage in `estimatedTokenUsage`; its results carry a `resp_` id. */
function isResponsesApiResult(llmOutput: Dict | undefined, prompts: unknown[][]): boolean {
  const id = read(llmOutput, "id");
  if (typeof id === "string" && id.startsWith("resp")) return true;
  return prompts.some((gens) => gens.some((g) => readPath(g, "message", "response_metadata", "object") === "response"));
}

/** Undoes the streaming miscounts of the Anthropic and Google GenAI clients (see module header). */
function correctStreaming(counts: Counts, gens: unknown[], stream: StreamObservation | undefined): Counts {
  if (!stream) return counts;
  const provider = generationProvider([gens]);
  const c = { ...counts };
  const start = stream.anthropicStartOutputTokens;
  if (provider === "anthropic" && start !== undefined && start > 0 && c.output >= start) {
    c.output -= start;
    if (c.total !== undefined && c.total >= start) c.total -= start;
  }
  const k = asCount(stream.chunks);
  if (provider === "google-genai" && k !== undefined && k > 1 && c.cacheRead > 0 && c.cacheRead % k === 0) {
    c.cacheRead /= k;
  }
  return c;
}

/** Consistency rules every source goes through (see total-consistency.ts), then the public shape. */
function finishCounts(counts: Counts | undefined, source: UsageSource, estimated: boolean, maxGap: number): ExtractedUsage {
  if (!counts) return { ...EMPTY };
  const { input, output, reasoning, contradictedTotal } = reconcileTotal(counts, maxGap);
  const cacheRead = Math.min(counts.cacheRead, input);
  const cacheWrite = Math.min(counts.cacheWrite, input - cacheRead);
  return {
    inputTokens: input,
    outputTokens: output,
    totalTokens: input + output,
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    reasoningTokens: Math.min(reasoning, output),
    estimated,
    found: true,
    source,
    contradictedTotal,
  };
}

/**
 * True when `handleLLMEnd` reports a LangChain cache hit: @langchain/core 1.x calls it with
 * `extraParams = { cached: true }` (and zeroed usage_metadata); no provider call was made.
 */
export function isLangChainCacheHit(extraParams: unknown): boolean {
  return read(extraParams, "cached") === true;
}
