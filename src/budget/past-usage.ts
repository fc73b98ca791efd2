/**
 * Past usage of a limit's subject, read from the store's aggregates (rollup-backed):
 * the seed of a shared counter a process may create.
 */
import type { GroupKey, RecordFilter } from "../stores/types.js";
import type { BudgetMonitor } from "./guard-types.js";
import type { BudgetLimit } from "./limits.js";
import { bucketOf } from "./rolling-buckets.js";
import type { SharedTally } from "./shared-tally.js";
import type { Tally } from "./tally.js";

/**
 * The seed of a counter: its subject's usage in the window containing `now`. A rolling
 * window reads hourly rows (each placed at its last record) from the start of its
 * oldest live bucket, so they can be filed in buckets.
 */
export async function seedUsage(monitor: BudgetMonitor, t: SharedTally, now: number): Promise<Array<{ at: number; units: number }>> {
  const r = t.rolling;
  if (!r) return pastUsageRows(monitor, t, t.window.start, t.window.end, false);
  return pastUsageRows(monitor, t, bucketOf(r, now - r.windowMs) * r.bucketMs, now + 60_000, true);
}

export async function pastUsageRows(
  monitor: BudgetMonitor,
  t: Tally,
  start: number,
  end: number,
  byHour: boolean,
): Promise<Array<{ at: number; units: number }>> {
  const { filter, dimension } = seedFilter(t.limit, t.subject);
  const groupBy: GroupKey[] = [...(byHour ? (["hour"] as GroupKey[]) : []), ...(dimension ? [`dimension:${dimension.name}` as GroupKey] : [])];
  const rows = await monitor.aggregate({ ...filter, start: new Date(start).toISOString(), end: new Date(end).toISOString() }, groupBy);
  const out: Array<{ at: number; units: number }> = [];
  for (const row of rows) {
    if (dimension && row.key[`dimension:${dimension.name}`] !== dimension.value) continue;
    const units = t.limit.metric === "cost" ? row.costNanos : t.limit.metric === "requests" ? row.requests : row.totalTokens;
    // Rolling windows place an hour's spend at its last record, so it leaves the window no earlier than it should.
    out.push({ at: byHour && row.lastSeen ? Date.parse(row.lastSeen) : start, units });
  }
  return out;
}

/** The record filter that selects a subject's usage (dimension values are matched on grouped rows). */
function seedFilter(limit: BudgetLimit, subject: string): { filter: RecordFilter; dimension?: { name: string; value: string } } {
  const scope = limit.scope;
  const colon = scope.indexOf(":");
  const kind = colon < 0 ? scope : scope.slice(0, colon);
  const rest = scope.slice(colon + 1);
  const value = rest === "*" || rest.endsWith("=*") ? subject : rest;
  switch (kind) {
    case "user":
      return { filter: { userId: value } };
    case "provider":
      return { filter: { provider: value } };
    case "model":
      return { filter: { model: value } };
    case "agent":
      return { filter: { agentName: value } };
    case "dimension": {
      const eq = rest.indexOf("=");
      return { filter: {}, dimension: { name: rest.slice(0, eq), value: rest.endsWith("=*") ? subject : rest.slice(eq + 1) } };
    }
    default:
      return { filter: {} };
  }
}
