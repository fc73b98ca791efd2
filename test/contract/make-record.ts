/**
 * Builds valid usage records for tests: every field filled, costs consistent
 * (USD = nanos / 1e9, total = input + output), overridable piecemeal.
 */
import { randomUUID } from "node:crypto";
import { nanosToUsd } from "../../src/record/mapping.js";
import type { UsageRecord } from "../../src/record/types.js";

export type RecordOverrides = Partial<UsageRecord>;

export function makeRecord(overrides: RecordOverrides = {}): UsageRecord {
  const inputTokens = overrides.inputTokens ?? 120;
  const outputTokens = overrides.outputTokens ?? 30;
  const inputCostNanos = overrides.inputCostNanos ?? inputTokens * 150;
  const outputCostNanos = overrides.outputCostNanos ?? outputTokens * 600;
  const totalCostNanos = overrides.totalCostNanos ?? inputCostNanos + outputCostNanos;
  const base: UsageRecord = {
    id: randomUUID(),
    userId: "user-1",
    threadId: "thread-1",
    agentName: "agent-1",
    operationType: "chat",
    provider: "openai",
    model: "gpt-4o-mini",
    deployment: null,
    timestamp: "2026-11-23T08:00:00.000Z",
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    inputCost: nanosToUsd(inputCostNanos),
    outputCost: nanosToUsd(outputCostNanos),
    totalCost: nanosToUsd(totalCostNanos),
    inputCostNanos,
    outputCostNanos,
    totalCostNanos,
    priced: true,
    priceSource: "genai-prices@0.1.8",
    estimated: false,
    cached: false,
    latencyMs: 420,
    error: false,
    errorMessage: null,
    runId: null,
    parentRunId: null,
    tags: [],
    dimensions: {},
    requestMetadata: {},
  };
  return { ...base, ...overrides };
}

/** A small deterministic PRNG (mulberry32) so random datasets are reproducible from a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
