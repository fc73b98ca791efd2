/**
 * The incremental rollup layout: per user partition, one document per UTC hour
 * (`~rh<hour>`) and one per UTC day (`~rd<day>`), each holding a map of groups
 * `g.<key>` keyed by (provider, model, agent, operation, error, priced, estimated,
 * cached). Writers patch them in the same transactional batch as the records.
 *
 * A writer rewrites a document it read with an etag condition (one write per
 * document per flush); after losing a race it patches group by group instead.
 * Why the flags are in the group key: a Cosmos patch carries at most 10 operations.
 * With the four flags folded into the key, a group needs only 8 counters (requests,
 * 6 token counts, cost in integer nano-dollars; the flag counts are the requests of
 * the groups carrying the flag), plus at most 2 `set`s for first/last seen: 10.
 * First/last seen cannot be incremented; a `set` goes with a filter predicate that
 * holds only while the stored value is still older/newer than ours, so two replicas
 * can never move them the wrong way (the loser's batch fails whole and is re-planned).
 *
 * Legacy documents (`~r<hour>`, `type: "rollup"`, recomputed from raw by earlier
 * versions) are left in place and read beside the new ones (see user-queries.ts);
 * `rebuildRollups()` folds them into this layout.
 */
import { createHash } from "node:crypto";
import type { PatchOperation } from "@azure/cosmos";
import type { UsageRecord } from "../../record/types.js";
import { emptyTotals, type UsageTotals } from "../types.js";
import type { RollupDocument, RollupGroup } from "./rollups.js";

export type RollupLevel = "hour" | "day";
export const HOUR_TYPE = "rollup-hour";
export const DAY_TYPE = "rollup-day";
export const LEGACY_TYPE = "rollup";

/** The counters a group keeps; `incr`ed by the writers. */
export const COUNTERS = [
  "requests",
  "input_tokens",
  "output_tokens",
  "total_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "cost_nanos",
] as const;
export type Counter = (typeof COUNTERS)[number];

export interface GroupState {
  provider: string;
  model: string;
  agent: string | null;
  operation: string;
  error: boolean;
  priced: boolean;
  estimated: boolean;
  cached: boolean;
  first_seen: string;
  last_seen: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  cost_nanos: number;
}

export interface RollupDoc2 {
  id: string;
  type: typeof HOUR_TYPE | typeof DAY_TYPE;
  user_id: string;
  month: string;
  day: string;
  hour?: string;
  g: Record<string, GroupState>;
  _etag?: string;
}

export function rollupId(level: RollupLevel, period: string): string {
  return level === "hour" ? `~rh${period}` : `~rd${period}`;
}

export function periodOf(level: RollupLevel, timestamp: string): string {
  return level === "hour" ? timestamp.slice(0, 13) : timestamp.slice(0, 10);
}

/** A short key safe as a patch path segment and as a query identifier. */
export function groupKey(r: UsageRecord): string {
  const tuple = [r.provider, r.model, r.agentName, r.operationType, !!r.error, !!r.priced, !!r.estimated, !!r.cached];
  return `k${createHash("sha256").update(JSON.stringify(tuple)).digest("hex").slice(0, 20)}`;
}

/** Sums records into group states by key. */
export function groupDeltas(records: Iterable<UsageRecord>): Map<string, GroupState> {
  const out = new Map<string, GroupState>();
  for (const r of records) {
    const key = groupKey(r);
    let g = out.get(key);
    if (!g) {
      g = {
        provider: r.provider,
        model: r.model,
        agent: r.agentName,
        operation: r.operationType,
        error: !!r.error,
        priced: !!r.priced,
        estimated: !!r.estimated,
        cached: !!r.cached,
        first_seen: r.timestamp,
        last_seen: r.timestamp,
        requests: 0,
        input_tokens: 0,
        output_tokens: 0,
        total_tokens: 0,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        reasoning_tokens: 0,
        cost_nanos: 0,
      };
      out.set(key, g);
    }
    g.requests++;
    g.input_tokens += r.inputTokens;
    g.output_tokens += r.outputTokens;
    g.total_tokens += r.totalTokens;
    g.cache_read_tokens += r.cacheReadTokens;
    g.cache_write_tokens += r.cacheWriteTokens;
    g.reasoning_tokens += r.reasoningTokens;
    g.cost_nanos += r.totalCostNanos;
    if (r.timestamp < g.first_seen) g.first_seen = r.timestamp;
    if (r.timestamp > g.last_seen) g.last_seen = r.timestamp;
  }
  return out;
}

/** The stored groups plus `deltas` (a new map; the inputs are left unchanged). */
export function mergeGroups(stored: Record<string, GroupState>, deltas: Map<string, GroupState>): Map<string, GroupState> {
  const out = new Map(Object.entries(stored).map(([k, g]) => [k, { ...g }]));
  for (const [key, d] of deltas) {
    const g = out.get(key);
    if (!g) {
      out.set(key, { ...d });
      continue;
    }
    for (const c of COUNTERS) g[c] += d[c];
    if (d.first_seen < g.first_seen) g.first_seen = d.first_seen;
    if (d.last_seen > g.last_seen) g.last_seen = d.last_seen;
  }
  return out;
}

export function newRollupDoc(
  level: RollupLevel,
  userId: string,
  period: string,
  groups: Map<string, GroupState>,
): RollupDoc2 {
  const doc: RollupDoc2 = {
    id: rollupId(level, period),
    type: level === "hour" ? HOUR_TYPE : DAY_TYPE,
    user_id: userId,
    month: period.slice(0, 7),
    day: period.slice(0, 10),
    g: Object.fromEntries(groups),
  };
  if (level === "hour") doc.hour = period;
  return doc;
}

/**
 * The patch that adds `delta` to group `key` of a document whose stored group is
 * `stored` (undefined: absent when read). At most 10 operations; the condition
 * makes the patch fail (412) if a concurrent writer changed what the plan relied on.
 */
export function groupPatch(key: string, delta: GroupState, stored: GroupState | undefined): { operations: PatchOperation[]; condition?: string } {
  const path = `/g/${key}`;
  if (!stored) {
    return { operations: [{ op: "set", path, value: delta }], condition: `FROM c WHERE NOT IS_DEFINED(c.g.${key})` };
  }
  const operations: PatchOperation[] = [];
  for (const c of COUNTERS) if (delta[c] !== 0 || c === "requests") operations.push({ op: "incr", path: `${path}/${c}`, value: delta[c] });
  const guards = [`IS_DEFINED(c.g.${key})`];
  if (delta.first_seen < stored.first_seen) {
    operations.push({ op: "set", path: `${path}/first_seen`, value: delta.first_seen });
    guards.push(`c.g.${key}.first_seen > ${JSON.stringify(delta.first_seen)}`);
  }
  if (delta.last_seen > stored.last_seen) {
    operations.push({ op: "set", path: `${path}/last_seen`, value: delta.last_seen });
    guards.push(`c.g.${key}.last_seen < ${JSON.stringify(delta.last_seen)}`);
  }
  return { operations, condition: `FROM c WHERE ${guards.join(" AND ")}` };
}

export function groupTotals(g: GroupState): UsageTotals {
  const t = emptyTotals();
  t.requests = g.requests;
  t.inputTokens = g.input_tokens;
  t.outputTokens = g.output_tokens;
  t.totalTokens = g.total_tokens;
  t.cacheReadTokens = g.cache_read_tokens;
  t.cacheWriteTokens = g.cache_write_tokens;
  t.reasoningTokens = g.reasoning_tokens;
  t.costNanos = g.cost_nanos;
  t.errors = g.error ? g.requests : 0;
  t.unpriced = g.priced ? 0 : g.requests;
  t.estimated = g.estimated ? g.requests : 0;
  t.cached = g.cached ? g.requests : 0;
  t.firstSeen = g.first_seen;
  t.lastSeen = g.last_seen;
  return t;
}

/**
 * Any rollup document (hour, day or legacy) in the shape `aggregateRollups` sums.
 * A day document gets `hour` = its first hour, so hour-range filters keep it whole.
 */
export function asRollupDocument(d: Record<string, unknown>): RollupDocument {
  if (d.type === LEGACY_TYPE) return d as unknown as RollupDocument;
  const doc = d as unknown as RollupDoc2;
  const groups: RollupGroup[] = Object.values(doc.g ?? {})
    .filter((g) => g.requests > 0)
    .map((g) => ({ provider: g.provider, model: g.model, agent: g.agent, operation: g.operation, totals: groupTotals(g) }));
  return {
    id: doc.id,
    type: "rollup",
    user_id: doc.user_id,
    hour: doc.hour ?? `${doc.day}T00`,
    day: doc.day,
    month: doc.month,
    groups,
  };
}
