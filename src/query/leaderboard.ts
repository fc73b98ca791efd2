/**
 * Exact top-N users or threads over any range without reading the range's records (a
 * threshold algorithm in the manner of Fagin's NRA).
 *
 * The range is cut into the whole UTC days in its middle (one span) and the partial days
 * at its ends. The store ranks entities by cost over each span (`leaders`): over the
 * whole days that is the entity's exact cost there; a partial day is ranked by the whole
 * day, a ceiling for the part the range covers. Every list is read to depth K (K doubling
 * each round, all lists in one call), which gives every entity seen a lower bound (its
 * whole-day cost, when seen there) and an upper bound (what it showed in each list, or
 * that list's K-th value where it was not seen). With T the N-th best lower bound, only
 * entities whose upper bound reaches T can be in the top N, and one never seen cannot
 * once the lists' K-th values sum below T: reading stops there. The contenders left get
 * their exact cost (`leaderCosts`: one point read per whole-day span), highest upper bound
 * first, until the next upper bound is below the N-th best exact cost; only those at or
 * above that cost get their exact totals (`leaderTotals`: one read per day), which settle
 * ties by tokens (a store without `leaderCosts` reads every contender's totals). Costs
 * are never negative, which the ceilings rely on.
 *
 * Why stop as soon as no unseen entity can win, rather than reading on until few
 * contenders are left: the partial days' lists are ceilings, and narrowing contenders with
 * them takes thousands of rows (measured at 1M records: 7,680 list rows for top threads
 * before, 1,920 and 218 exact costs now), while an exact cost is a few point reads.
 *
 * Why one span for the whole days rather than a list per day: with many similar users,
 * an unseen user's ceiling summed over 30 daily lists stays above the leaders' totals
 * until nearly every list is read to the end (measured: all 160,000 user-days of a
 * 30-day range at 10,000 users). One list that is exact for the middle leaves only the
 * two end days as slack, which shrinks within a few hundred rows.
 *
 * Stores without the fast path answer from a grouped aggregate of the whole range.
 */
import type { AggregateRow, DaySpan, LeaderCost, LeaderEntity, LeaderKey, UsageStore } from "../stores/types.js";
import type { ResolvedRange } from "./range.js";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export interface LeaderboardTrace {
  /** Index rows read from the ranked lists. */
  listRows: number;
  /** Entities whose exact cost alone was read (`leaderCosts`). */
  costReads: number;
  /** Entities whose exact totals were read (`leaderTotals`). */
  exactReads: number;
  /** The depth K reached per list. */
  depth: number;
}

export function emptyTrace(): LeaderboardTrace {
  return { listRows: 0, costReads: 0, exactReads: 0, depth: 0 };
}

interface Candidate {
  key: LeaderKey;
  /** Cost on whole days where the entity was seen. */
  lower: number;
  /** Cost seen in each list. */
  seen: Map<SpanList, number>;
}

interface SpanList {
  span: DaySpan;
  /** The part of the range inside the span. */
  piece: ResolvedRange;
  /** For a partial day: the whole application's cost over `piece`, a ceiling for any one entity there. */
  cap: number;
  /** Whether the range covers the span whole (its costs are exact, not ceilings). */
  whole: boolean;
  read: number;
  exhausted: boolean;
  /** The last value read: the ceiling for entities not read yet. */
  floor: number;
}

/** The entity order of every leaderboard: cost, then tokens, then key, so ties are stable everywhere. */
export function compareLeaders(a: AggregateRow, b: AggregateRow): number {
  return b.costNanos - a.costNanos || b.totalTokens - a.totalTokens || leaderId(a.key).localeCompare(leaderId(b.key));
}

export function leaderId(key: { user?: string | null; thread?: string | null }): string {
  return key.thread === undefined ? String(key.user) : JSON.stringify([key.thread, key.user]);
}

/** Whether the store offers the per-day fast path. */
export function hasLeaderboards(store: UsageStore): store is LeaderboardStore {
  return typeof store.leaders === "function" && typeof store.leaderTotals === "function";
}

export type LeaderboardStore = UsageStore & Required<Pick<UsageStore, "leaders" | "leaderTotals">>;

/**
 * The `limit` costliest entities over `range`, exact, in `compareLeaders` order. The store
 * must have the fast path (see `hasLeaderboards`).
 */
export async function topLeaders(
  store: LeaderboardStore,
  entity: LeaderEntity,
  range: ResolvedRange,
  limit: number,
  /** The whole application's cost over a range (from the global rollups). */
  applicationCost: (range: ResolvedRange) => Promise<number>,
  trace: LeaderboardTrace = emptyTrace(),
): Promise<AggregateRow[]> {
  const lists = spansOf(range);
  // A sliver of a day at an end of the range (a few seconds past midnight) would otherwise
  // cost a whole day of slack: no entity spent more there than everyone together.
  // The piece widened to whole hours is still a ceiling, and reads the global hourly
  // rollups alone (no raw records of the partial hours: thousands per hour at 10M records).
  await Promise.all(lists.filter((l) => !l.whole).map(async (l) => (l.cap = await applicationCost(wholeHoursAround(l.piece)))));
  const candidates = new Map<string, Candidate>();
  let threshold = 0;
  // Every open list is read to the same depth, all in one call, doubling each round.
  for (let depth = Math.max(2 * limit, 16); ; depth *= 2) {
    const open = lists.filter((l) => !l.exhausted);
    const offset = open[0].read;
    const rows = await store.leaders(entity, open.map((l) => l.span), offset, depth - offset);
    trace.listRows += rows.length;
    const last = new Map<SpanList, number>();
    for (const row of rows) {
      const list = open[row.span];
      const cost = Math.min(row.costNanos, list.cap);
      const key: LeaderKey = entity === "user" ? { user: row.user } : { thread: row.thread, user: row.user };
      const id = leaderId(key);
      let c = candidates.get(id);
      if (!c) candidates.set(id, (c = { key, lower: 0, seen: new Map() }));
      c.seen.set(list, cost);
      if (list.whole) c.lower += cost;
      list.read++;
      last.set(list, cost);
    }
    for (const list of open) {
      list.exhausted = list.read < depth;
      // Not read yet means at most the last value read (and nothing at all once a list ends).
      list.floor = list.exhausted ? 0 : last.get(list)!;
    }
    trace.depth = depth;

    const lowers = [...candidates.values()].map((c) => c.lower).sort((a, b) => b - a);
    threshold = lowers.length >= limit ? lowers[limit - 1] : 0;
    const unseenCeiling = lists.reduce((sum, l) => sum + l.floor, 0);
    // Done once no list is left or no entity not read yet can reach the N-th best lower bound.
    if (lists.every((l) => l.exhausted) || (lowers.length >= limit && unseenCeiling < threshold)) break;
  }

  // Only entities whose ceiling reaches the threshold can be in the top N.
  const contenders = [...candidates.values()]
    .map((c) => ({ key: c.key, upper: upper(c, lists) }))
    .filter((c) => c.upper >= threshold)
    .sort((a, b) => b.upper - a.upper);
  let keys = contenders.map((c) => c.key);
  if (keys.length > limit && store.leaderCosts) {
    // Exact costs are cheap (one point read per whole-day span), totals are not (one per
    // day). Costs are read highest ceiling first, in growing batches: the N-th best exact
    // cost so far (`cut`) rises above the lower bounds, and once the next ceiling is below
    // it, no contender left can place. Totals are read only for those at or above `cut`,
    // its ties included (tokens, then key, order those).
    const costs: LeaderCost[] = [];
    let cut = threshold;
    for (let i = 0, size = Math.max(2 * limit, 16); i < contenders.length && contenders[i].upper >= cut; i += size, size *= 2) {
      const batch = contenders.slice(i, i + size).filter((c) => c.upper >= cut);
      trace.costReads += batch.length;
      costs.push(...(await store.leaderCosts(entity, batch.map((c) => c.key), range)));
      costs.sort((a, b) => b.costNanos - a.costNanos);
      if (costs.length >= limit) cut = Math.max(cut, costs[limit - 1].costNanos);
    }
    keys = costs.filter((c) => c.costNanos >= cut).map((c): LeaderKey => (entity === "user" ? { user: c.user } : { thread: c.thread, user: c.user }));
  }
  trace.exactReads += keys.length;
  const exact = await store.leaderTotals(entity, keys, range);
  return exact.sort(compareLeaders).slice(0, limit);
}

/** The most an entity can have cost over the range, from what the lists have shown. */
function upper(c: Candidate, lists: SpanList[]): number {
  let sum = 0;
  for (const l of lists) sum += c.seen.get(l) ?? l.floor;
  return sum;
}

/** The range as lists: the partial day at each end (ceilings) and the whole days between (exact). */
function spansOf(range: ResolvedRange): SpanList[] {
  const s = Date.parse(range.start);
  const e = Date.parse(range.end);
  const firstWhole = Math.ceil(s / DAY_MS) * DAY_MS;
  const lastWhole = Math.floor(e / DAY_MS) * DAY_MS;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const list = (start: number, end: number, whole: boolean): SpanList => ({
    span: { start: day(start), end: day(end) },
    piece: { start: new Date(Math.max(s, start)).toISOString(), end: new Date(Math.min(e, end)).toISOString() },
    cap: Infinity,
    whole,
    read: 0,
    exhausted: false,
    floor: Infinity,
  });
  if (firstWhole > lastWhole) return [list(lastWhole, firstWhole, false)]; // within one day
  const lists: SpanList[] = [];
  if (s < firstWhole) lists.push(list(firstWhole - DAY_MS, firstWhole, false));
  if (firstWhole < lastWhole) lists.push(list(firstWhole, lastWhole, true));
  if (lastWhole < e) lists.push(list(lastWhole, lastWhole + DAY_MS, false));
  return lists;
}

/** The smallest range of whole hours that contains `range`. */
function wholeHoursAround(range: ResolvedRange): ResolvedRange {
  const start = Math.floor(Date.parse(range.start) / HOUR_MS) * HOUR_MS;
  const end = Math.ceil(Date.parse(range.end) / HOUR_MS) * HOUR_MS;
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
}
