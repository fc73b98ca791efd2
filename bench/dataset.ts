/**
 * A synthetic but realistic usage dataset: 10,000 users (one heavy user with a
 * fifth of all calls), threads of ~20 calls, a few models and agents, 90 days.
 * Deterministic (seeded), generated in chunks so a million records never sit in memory.
 */
import type { UsageRecord } from "../src/record/types.js";
import { seededRandom } from "../test/contract/make-record.js";

export const DAY_MS = 86_400_000;
export const HEAVY_USER = "user-heavy";

const MODELS = [
  ["openai", "gpt-4o-mini", 150, 600],
  ["openai", "gpt-4o", 2500, 10000],
  ["anthropic", "claude-sonnet-4", 3000, 15000],
] as const;
const AGENTS = ["support_agent", "research_agent"];

export interface DatasetOptions {
  total: number;
  users: number;
  heavyShare: number;
  endMs: number;
  days: number;
  seed?: number;
}

export function* datasetChunks(o: DatasetOptions, chunkSize: number): Generator<UsageRecord[]> {
  const rand = seededRandom(o.seed ?? 7);
  let chunk: UsageRecord[] = [];
  for (let i = 0; i < o.total; i++) {
    const heavy = rand() < o.heavyShare;
    const userId = heavy ? HEAVY_USER : `user-${Math.floor(rand() * (o.users - 1))}`;
    const [provider, model, inPrice, outPrice] = MODELS[Math.floor(rand() * MODELS.length)];
    const input = 200 + Math.floor(rand() * 4000);
    const output = 20 + Math.floor(rand() * 600);
    const cacheRead = rand() < 0.3 ? Math.floor(input / 2) : 0;
    const inputCostNanos = input * inPrice;
    const outputCostNanos = output * outPrice;
    // Live traffic arrives in time order (a few seconds of jitter): the records' timestamps
    // advance evenly from the start of the window to its end.
    const spanMs = o.days * DAY_MS;
    const ts = new Date(o.endMs - spanMs + Math.floor((i / o.total) * spanMs) + Math.floor(rand() * 5000)).toISOString();
    chunk.push({
      id: `r-${o.seed ?? 7}-${i}`,
      userId,
      threadId: `${userId}-t${Math.floor(rand() * (heavy ? 10_000 : 5))}`,
      agentName: AGENTS[Math.floor(rand() * AGENTS.length)],
      operationType: "chat",
      provider,
      model,
      deployment: null,
      timestamp: ts,
      inputTokens: input,
      outputTokens: output,
      totalTokens: input + output,
      cacheReadTokens: cacheRead,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      inputCost: inputCostNanos / 1e9,
      outputCost: outputCostNanos / 1e9,
      totalCost: (inputCostNanos + outputCostNanos) / 1e9,
      inputCostNanos,
      outputCostNanos,
      totalCostNanos: inputCostNanos + outputCostNanos,
      priced: true,
      priceSource: "genai-prices@0.1.8",
      estimated: false,
      cached: false,
      latencyMs: 500 + Math.floor(rand() * 3000),
      error: false,
      errorMessage: null,
      runId: null,
      parentRunId: null,
      tags: [],
      dimensions: {},
      requestMetadata: {},
    });
    if (chunk.length === chunkSize) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}
