/**
 * Where the application-wide views live: one reserved logical partition (`user_id`
 * `__global__`, month `-` on a hierarchical container) holding the change-feed lease
 * and the global hour and day rollups. One partition, because a transactional batch
 * spans one partition: the increments and the lease's new continuation commit together.
 *
 * Rollup ids carry the lease's epoch: `rebuildRollups()` starts a new epoch with one
 * lease write (atomic), so a rebuild never mixes with increments of the epoch before;
 * documents of older epochs are ignored by reads and deleted afterwards.
 *
 * The partition grows with the range kept (one document per hour and per day, each the
 * size of the application's (provider, model, agent, operation, flags) groups), never
 * with users; a logical partition holds up to 20 GB, years of hours at a few KB each.
 */
import type { GroupState } from "../rollup-docs.js";

/** Reserved: record validation refuses user ids of the form `__name__` (see validation.ts). */
export const GLOBAL_PARTITION = "__global__";
export const GLOBAL_MONTH = "-";
export const LEASE_ID = "~glease";
export const LEASE_TYPE = "global-lease";
export const GLOBAL_HOUR_TYPE = "global-hour";
export const GLOBAL_DAY_TYPE = "global-day";
/** One user's (or thread's) totals over one UTC day: the leaderboards' per-day lists. */
export const USER_DAY_TYPE = "global-user-day";
export const THREAD_DAY_TYPE = "global-thread-day";
/** One user's (or thread's) cost over a registered span of whole days (see leaders.ts). */
export const WINDOW_TYPE = "global-window";

/** A span of whole days whose per-entity costs the consumer keeps exact (`start` inclusive, `end` exclusive). */
export interface LeaderWindow {
  entity: "user" | "thread";
  start: string;
  end: string;
  /** Distinguishes a rebuilt window's documents from a dropped one's. */
  build: string;
}

export type GlobalLevel = "hour" | "day";

export interface GlobalRollupDoc {
  id: string;
  type: typeof GLOBAL_HOUR_TYPE | typeof GLOBAL_DAY_TYPE;
  user_id: typeof GLOBAL_PARTITION;
  month: typeof GLOBAL_MONTH;
  epoch: number;
  day: string;
  hour?: string;
  g: Record<string, GroupState>;
  _etag?: string;
}

/**
 * A record change a maintenance call (re-price, prune) has already applied to the
 * global rollups and must still apply to the record itself. Kept in the lease, written
 * in the same batch as the deltas, so whoever holds the lease next can finish it.
 */
export interface RecordIntent {
  id: string;
  pk: string | string[];
  /** The record's etag when its old version was read (the version the deltas subtract). */
  etag: string;
  action: "replace" | "delete";
  /**
   * The fields a re-price sets (at most 10: one patch), with `rev`, so a finished one is
   * recognised. Only the changed fields: a record may be large, the lease must stay small.
   */
  set?: Record<string, unknown>;
}

export interface LeaseDoc {
  id: typeof LEASE_ID;
  type: typeof LEASE_TYPE;
  user_id: typeof GLOBAL_PARTITION;
  month: typeof GLOBAL_MONTH;
  /** Incremented by every rebuild; rollup ids carry it. */
  epoch: number;
  /** Change-feed continuation after the last page folded; null = from the beginning. */
  continuation: string | null;
  /** True once this epoch's consumer has reached the end of the feed: reads may use the rollups. */
  ready: boolean;
  /**
   * This epoch keeps the dimension documents (dim-docs.ts) from its start. An epoch begun
   * by an earlier version has none for the records it folded: dimension views read raw
   * records until `rebuildRollups()` starts an epoch that has them.
   */
  dims?: boolean;
  /** Leaderboard windows kept exact by every commit (at most a few per entity). */
  windows?: LeaderWindow[];
  /** Held by a maintenance call: consumers do not commit while it is set. */
  lock?: { holder: string; intents: RecordIntent[] };
  _etag?: string;
  _ts?: number;
}

export function globalRollupId(level: GlobalLevel, epoch: number, period: string): string {
  return `~g${epoch}${level === "hour" ? "h" : "d"}${period}`;
}

export function newLease(epoch: number): LeaseDoc {
  return {
    id: LEASE_ID,
    type: LEASE_TYPE,
    user_id: GLOBAL_PARTITION,
    month: GLOBAL_MONTH,
    epoch,
    continuation: null,
    ready: false,
    dims: true,
  };
}

/** A user id that names a reserved partition (settings, global views), never a real user's. */
export function isReservedUserId(userId: string): boolean {
  return /^__.*__$/.test(userId);
}
