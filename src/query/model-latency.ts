/**
 * Latency percentiles and error rates per model. The store contract keeps sums, not
 * distributions, so percentiles come from raw records: the newest `maxRecords` of the
 * range (read newest first through keyset pages), never more. The cost of one call is
 * therefore bounded by `maxRecords` whatever the range, the user or the fleet; a range
 * holding more calls reports `truncated` and the oldest time it reached.
 */
import { ValidationError } from "../errors.js";
import type { RecordPage, ListOptions } from "./usage-queries.js";

export const DEFAULT_LATENCY_SAMPLE = 5000;
export const MAX_LATENCY_SAMPLE = 20000;
const PAGE = 1000;

export interface ModelLatency {
  model: string;
  provider: string;
  requests: number;
  errors: number;
  /** errors / requests, 0..1. */
  errorRate: number;
  /** Calls that carried a latency (cached answers and some providers have none). */
  timedRequests: number;
  p50Ms: number | null;
  p95Ms: number | null;
  maxMs: number | null;
}

export interface ModelLatencyReport {
  models: ModelLatency[];
  /** Records read. */
  sampled: number;
  /** True when the range holds more than `maxRecords` calls: only the newest were read. */
  truncated: boolean;
  /** Timestamp of the oldest record read (null when none). */
  oldestSampled: string | null;
}

/** What this reads: the paged record list of the query layer. */
export interface RecordLister {
  getAllUsage(options: ListOptions): Promise<RecordPage>;
}

/** Nearest-rank percentile of sorted values (no interpolation: every answer is a measured latency). */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export async function modelLatency(
  lister: RecordLister,
  options: Omit<ListOptions, "limit" | "cursor"> & { maxRecords?: number },
): Promise<ModelLatencyReport> {
  const { maxRecords = DEFAULT_LATENCY_SAMPLE, ...filter } = options;
  if (!Number.isInteger(maxRecords) || maxRecords < 1 || maxRecords > MAX_LATENCY_SAMPLE) {
    throw new ValidationError("maxRecords", `must be a whole number from 1 to ${MAX_LATENCY_SAMPLE}, got ${String(maxRecords)}`);
  }
  const groups = new Map<string, { model: string; provider: string; requests: number; errors: number; latencies: number[] }>();
  let sampled = 0;
  let oldest: string | null = null;
  let cursor: string | undefined;
  let truncated = false;
  do {
    const page = await lister.getAllUsage({ ...filter, limit: Math.min(PAGE, maxRecords - sampled), cursor });
    for (const r of page.records) {
      const key = `${r.provider}\u0000${r.model}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { model: r.model, provider: r.provider, requests: 0, errors: 0, latencies: [] }));
      g.requests++;
      if (r.error) g.errors++;
      if (typeof r.latencyMs === "number" && Number.isFinite(r.latencyMs)) g.latencies.push(r.latencyMs);
      oldest = r.timestamp;
    }
    sampled += page.records.length;
    cursor = page.cursor;
    if (cursor !== undefined && sampled >= maxRecords) truncated = true;
  } while (cursor !== undefined && sampled < maxRecords);

  const models = [...groups.values()]
    .map((g): ModelLatency => {
      const sorted = g.latencies.sort((a, b) => a - b);
      return {
        model: g.model,
        provider: g.provider,
        requests: g.requests,
        errors: g.errors,
        errorRate: g.requests === 0 ? 0 : g.errors / g.requests,
        timedRequests: sorted.length,
        p50Ms: percentile(sorted, 50),
        p95Ms: percentile(sorted, 95),
        maxMs: sorted.length ? sorted[sorted.length - 1]! : null,
      };
    })
    .sort((a, b) => b.requests - a.requests || a.model.localeCompare(b.model));
  return { models, sampled, truncated, oldestSampled: oldest };
}
