/**
 * Folding record versions into global rollup deltas (pure; no I/O).
 *
 * Which change-feed items count: usage records (documents of type `usage`, or untyped
 * documents written by other tools in the record schema) outside the reserved
 * partitions, except a version written by a maintenance call that has already put its
 * delta into this epoch's rollups (`g_epoch` = the epoch): the latest-version feed
 * replays such a version, and folding it again would count the record twice.
 */
import type { UsageRecord } from "../../../record/types.js";
import { fromUsageDocument } from "../documents.js";
import { COUNTERS, groupDeltas, periodOf, type GroupState } from "../rollup-docs.js";
import { isReservedUserId, type GlobalLevel } from "./layout.js";

/** Deltas per document: level and period (`YYYY-MM-DDTHH` or `YYYY-MM-DD`) to group deltas. */
export type GlobalDeltas = Map<string, { level: GlobalLevel; period: string; groups: Map<string, GroupState> }>;

/** Record documents of a feed page the consumer must fold. */
export function foldable(items: Array<Record<string, unknown>>, epoch: number): UsageRecord[] {
  const out: UsageRecord[] = [];
  for (const d of items) {
    if (d.type !== undefined && d.type !== "usage") continue;
    if (typeof d.user_id !== "string" || isReservedUserId(d.user_id) || typeof d.timestamp !== "string") continue;
    if (d.g_epoch === epoch) continue;
    out.push(fromUsageDocument(d));
  }
  return out;
}

/** Whether an item is one of the reserved global partition's own documents. */
export function isOwnDocument(d: Record<string, unknown>, partition: string): boolean {
  return d.user_id === partition;
}

/** Adds `sign` × each record to the hour and day deltas in `into`. */
export function addRecords(into: GlobalDeltas, records: UsageRecord[], sign: 1 | -1): GlobalDeltas {
  for (const level of ["hour", "day"] as GlobalLevel[]) {
    const byPeriod = new Map<string, UsageRecord[]>();
    for (const r of records) {
      const p = periodOf(level, r.timestamp);
      byPeriod.get(p)?.push(r) ?? byPeriod.set(p, [r]);
    }
    for (const [period, rs] of byPeriod) {
      const key = `${level}|${period}`;
      let slot = into.get(key);
      if (!slot) into.set(key, (slot = { level, period, groups: new Map() }));
      for (const [k, g] of groupDeltas(rs)) {
        const signed = sign === 1 ? g : negate(g);
        const cur = slot.groups.get(k);
        slot.groups.set(k, cur ? addGroup(cur, signed) : signed);
      }
    }
  }
  return into;
}

function negate(g: GroupState): GroupState {
  const n = { ...g };
  for (const c of COUNTERS) n[c] = -g[c];
  return n;
}

/**
 * `a` + `b`. First/last seen only widen with an addition: a subtraction (a pruned or
 * re-priced record leaving a group) cannot know the next-oldest record, so the bounds
 * stay where they were (see the README: they are bounds after prune/re-price).
 */
export function addGroup(a: GroupState, b: GroupState): GroupState {
  const out = { ...a };
  for (const c of COUNTERS) out[c] += b[c];
  if (b.requests > 0) {
    if (b.first_seen < out.first_seen) out.first_seen = b.first_seen;
    if (b.last_seen > out.last_seen) out.last_seen = b.last_seen;
  }
  return out;
}

/** Stored groups plus deltas; groups left with no request are dropped. */
export function applyGroups(stored: Record<string, GroupState>, deltas: Map<string, GroupState>): Record<string, GroupState> {
  const out: Record<string, GroupState> = { ...stored };
  for (const [k, d] of deltas) out[k] = out[k] ? addGroup(out[k], d) : { ...d };
  for (const k of Object.keys(out)) if (out[k].requests <= 0) delete out[k];
  return out;
}
