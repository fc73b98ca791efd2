/**
 * The instruments, created on one Meter, and how one stored record is reported on them.
 *
 * | metric | kind | unit | what |
 * | --- | --- | --- | --- |
 * | `gen_ai.client.token.usage` | histogram | `{token}` | input and output tokens per call (`gen_ai.token.type`) |
 * | `gen_ai.client.operation.duration` | histogram | `s` | call latency, with `error.type` on failed calls |
 * | `token_tracking.client.token.detail` | counter | `{token}` | cache-read, cache-write and reasoning tokens (`token_tracking.token.type`) |
 * | `token_tracking.client.cost` | counter | `USD` | cost of priced calls |
 *
 * Cache reads and writes are part of input, reasoning of output (the record's counts are
 * inclusive), so the detail counter breaks those totals down; it never adds to them.
 */
import type { Attributes, Counter, Histogram, Meter } from "@opentelemetry/api";
import type { UsageRecord } from "../record/types.js";
import { recordAttributes, type TelemetryAttributeOptions } from "./attributes.js";

// Bucket boundaries the conventions recommend for these two histograms.
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** `error.type` for a failed call: the record keeps the message, not a class, so the fallback value. */
export const ERROR_TYPE_OTHER = "_OTHER";

export class UsageInstruments {
  private readonly tokenUsage: Histogram;
  private readonly duration: Histogram;
  private readonly detail: Counter;
  private readonly cost: Counter;

  constructor(meter: Meter, private readonly attributeOptions: TelemetryAttributeOptions, intValueType?: number) {
    const ints = intValueType === undefined ? {} : { valueType: intValueType };
    this.tokenUsage = meter.createHistogram("gen_ai.client.token.usage", {
      description: "Number of input and output tokens used per GenAI call",
      unit: "{token}",
      ...ints,
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    });
    this.duration = meter.createHistogram("gen_ai.client.operation.duration", {
      description: "GenAI operation duration",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.detail = meter.createCounter("token_tracking.client.token.detail", {
      description: "Cache-read and cache-write (inside input) and reasoning (inside output) tokens",
      unit: "{token}",
      ...ints,
    });
    this.cost = meter.createCounter("token_tracking.client.cost", { description: "Cost of priced GenAI calls", unit: "USD" });
  }

  /** True when every instrument is the API's no-op (no SDK registered): nothing to do per record. */
  isNoop(noopHistogram: unknown): boolean {
    return this.tokenUsage === noopHistogram;
  }

  report(r: UsageRecord): void {
    // A LangChain cache hit reached no provider: no GenAI operation took place.
    if (r.cached) return;
    const attrs = recordAttributes(r, this.attributeOptions);
    if (r.latencyMs !== null) {
      this.duration.record(r.latencyMs / 1000, r.error ? { ...attrs, "error.type": ERROR_TYPE_OTHER } : attrs);
    }
    if (r.error) return; // a failed call reports no usage
    this.tokenUsage.record(r.inputTokens, { ...attrs, "gen_ai.token.type": "input" });
    if (r.operationType !== "embedding") this.tokenUsage.record(r.outputTokens, { ...attrs, "gen_ai.token.type": "output" });
    this.addDetail(r.cacheReadTokens, attrs, "cache_read");
    this.addDetail(r.cacheWriteTokens, attrs, "cache_write");
    this.addDetail(r.reasoningTokens, attrs, "reasoning");
    if (r.priced && r.totalCostNanos > 0) this.cost.add(r.totalCostNanos / 1e9, attrs);
  }

  private addDetail(value: number, attrs: Attributes, type: string): void {
    if (value > 0) this.detail.add(value, { ...attrs, "token_tracking.token.type": type });
  }
}
