/**
 * Usage from raw provider SDK responses (not LangChain): OpenAI Chat Completions,
 * OpenAI Responses and Embeddings, Anthropic Messages, Gemini generateContent.
 * Returns inclusive input/output counts like every record; null when the response
 * carries no usage. Never throws.
 */
export interface RawUsage {
  model: string | null;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
}

export function usageFromRawResponse(response: unknown): RawUsage | null {
  try {
    if (!response || typeof response !== "object") return null;
    const r = response as Record<string, any>;
    const model = typeof r.model === "string" ? r.model : typeof r.modelVersion === "string" ? r.modelVersion : null;
    const u = r.usage;
    if (u && typeof u === "object") {
      if (isCount(u.prompt_tokens)) {
        // OpenAI Chat Completions / Embeddings: cached and reasoning counts are already inside.
        return {
          model,
          inputTokens: u.prompt_tokens,
          outputTokens: count(u.completion_tokens),
          cacheReadTokens: count(u.prompt_tokens_details?.cached_tokens),
          cacheWriteTokens: 0,
          reasoningTokens: count(u.completion_tokens_details?.reasoning_tokens),
        };
      }
      if (isCount(u.input_tokens)) {
        if ("cache_read_input_tokens" in u || "cache_creation_input_tokens" in u) {
          // Anthropic: input_tokens excludes cache reads and writes; make it inclusive.
          const read = count(u.cache_read_input_tokens);
          const write = count(u.cache_creation_input_tokens);
          return { model, inputTokens: u.input_tokens + read + write, outputTokens: count(u.output_tokens), cacheReadTokens: read, cacheWriteTokens: write, reasoningTokens: 0 };
        }
        // OpenAI Responses API.
        return {
          model,
          inputTokens: u.input_tokens,
          outputTokens: count(u.output_tokens),
          cacheReadTokens: count(u.input_tokens_details?.cached_tokens),
          cacheWriteTokens: 0,
          reasoningTokens: count(u.output_tokens_details?.reasoning_tokens),
        };
      }
    }
    const g = r.usageMetadata ?? r.response?.usageMetadata;
    if (g && typeof g === "object" && isCount(g.promptTokenCount)) {
      // Gemini reports thinking tokens apart from candidates: output includes them here.
      const thoughts = count(g.thoughtsTokenCount);
      return {
        model,
        inputTokens: g.promptTokenCount,
        outputTokens: count(g.candidatesTokenCount) + thoughts,
        cacheReadTokens: Math.min(count(g.cachedContentTokenCount), g.promptTokenCount),
        cacheWriteTokens: 0,
        reasoningTokens: thoughts,
      };
    }
    return null;
  } catch {
    return null;
  }
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

function count(v: unknown): number {
  return isCount(v) ? v : 0;
}
