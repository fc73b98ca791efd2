/**
 * Embedding usage. LangChain.js has no embedding callbacks, so the wrapper hooks
 * the provider call itself: for OpenAI and Azure OpenAI embeddings that is
 * `embeddingWithRetry`, whose raw response carries `usage.prompt_tokens`. Other
 * embedding classes are recorded with an estimate (4 characters per token) and
 * flagged `estimated`.
 */
import type { Embeddings } from "@langchain/core/embeddings";
import { getTokenMonitor, type TokenMonitoringService } from "../monitor/token-monitor.js";
import { usageFromRawResponse } from "./raw-response-usage.js";

export interface TrackEmbeddingsOptions {
  provider?: string;
  model?: string;
  userId?: string;
  threadId?: string;
  agentName?: string;
  dimensions?: Record<string, string>;
  monitor?: TokenMonitoringService;
}

type WithRetry = { embeddingWithRetry?: (request: unknown) => Promise<unknown> };

/** Instruments an embeddings instance in place and returns it. */
export function trackEmbeddings<E extends Embeddings>(embeddings: E, options: TrackEmbeddingsOptions = {}): E {
  const monitor = () => options.monitor ?? getTokenMonitor();
  const target = embeddings as E & WithRetry & { model?: string; modelName?: string };
  const modelOf = () => options.model ?? target.model ?? target.modelName ?? "unknown";
  const provider = options.provider ?? guessProvider(embeddings);
  const record = (input: { model: string; inputTokens: number; estimated?: boolean; error?: string }) =>
    monitor()
      .trackUsage({
        provider,
        model: input.model,
        operation: "embedding",
        inputTokens: input.inputTokens,
        outputTokens: 0,
        estimated: input.estimated,
        error: input.error !== undefined,
        errorMessage: input.error,
        userId: options.userId,
        threadId: options.threadId,
        agentName: options.agentName,
        dimensions: options.dimensions,
      })
      .catch((e) => console.warn(`[token-tracking] embedding usage not recorded: ${(e as Error).message}`));

  if (typeof target.embeddingWithRetry === "function") {
    const original = target.embeddingWithRetry.bind(target);
    target.embeddingWithRetry = async (request: unknown) => {
      try {
        const response = await original(request);
        const usage = usageFromRawResponse(response);
        await record({ model: usage?.model ?? modelOf(), inputTokens: usage?.inputTokens ?? 0, estimated: !usage });
        return response;
      } catch (error) {
        await record({ model: modelOf(), inputTokens: 0, error: (error as Error).message ?? String(error) });
        throw error;
      }
    };
    return embeddings;
  }

  const embedDocuments = embeddings.embedDocuments.bind(embeddings);
  const embedQuery = embeddings.embedQuery.bind(embeddings);
  const estimate = (texts: string[]) => texts.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
  embeddings.embedDocuments = async (texts: string[]) => {
    const result = await embedDocuments(texts);
    await record({ model: modelOf(), inputTokens: estimate(texts), estimated: true });
    return result;
  };
  embeddings.embedQuery = async (text: string) => {
    const result = await embedQuery(text);
    await record({ model: modelOf(), inputTokens: estimate([text]), estimated: true });
    return result;
  };
  return embeddings;
}

function guessProvider(embeddings: Embeddings): string {
  const name = embeddings.constructor?.name ?? "";
  if (/Azure/i.test(name)) return "azure";
  if (/OpenAI/i.test(name)) return "openai";
  if (/Google|Gemini/i.test(name)) return "google_genai";
  if (/Bedrock/i.test(name)) return "bedrock";
  if (/Cohere/i.test(name)) return "cohere";
  return "unknown";
}
