/**
 * The arithmetic of a shared budget counter, written once for every backend: each
 * backend only reads the counter, applies this pure function and writes it back
 * atomically (a SQLite transaction, a Cosmos etag-guarded replace).
 *
 * A counter holds `used` (usage settled by every process) and one lease per process.
 * A grant never takes more than is free (limit - used - other live leases), so
 * used + live leases <= limit holds after every grant; only calls that use more than
 * their estimate push `used` past it (the overshoot bound in the README).
 *
 * A rolling window's counter keeps its usage in buckets (`bucketMs`, aligned on the
 * epoch) inside the same document, so one read gives the whole window and one
 * guarded write keeps the grant invariant; `used` is the sum of the buckets that
 * overlap the window at `now`, and a bucket leaves the window whole, once its end
 * is more than the window's length ago.
 *
 * Reports are idempotent: each holder numbers its reports, the counter keeps the last
 * number it applied per holder (for `SEEN_MS` after the holder's last report), and a
 * report at or below it adds no usage again. A write whose answer was lost (a Cosmos
 * replace applied before a timeout, a reset or a 503) is retried, or resent by the
 * holder, with the same number, so usage is counted once.
 *
 * Time: leases and rolling buckets are judged at `at`, the store's own clock where the
 * backend has one (Cosmos DB: the service's time from its answer), so a host whose clock
 * is off cannot lapse other holders' leases or make its own outlive it.
 */
import type { BudgetCounterState, BudgetCounterUpdate, BudgetRollingWindow } from "./types.js";

/** The part of the free budget (beyond what it needs) a lease takes. */
export const LEASE_SHARE = 0.25;
/**
 * A holder's last report number is kept this long after its last report (lease or not),
 * so a report resent after a lost answer is recognised; bounded by the holders that
 * reported in that time.
 */
export const SEEN_MS = 10 * 60_000;

export interface CounterLease {
  amount: number;
  inFlight: number;
  /** Epoch ms (the store's time where it has one); the lease counts until then. */
  until: number;
  /** The holder's last applied report number. */
  seq?: number;
  /** The entry (and `seq`) is dropped after this; absent on entries written before report numbers. */
  seen?: number;
}

export interface CounterDoc {
  key: string;
  used: number;
  limit: number;
  expiresAt: number;
  leases: Record<string, CounterLease>;
  /** Rolling windows only: units per bucket index. */
  buckets?: Record<string, number>;
  rolling?: BudgetRollingWindow;
  /** `holder#seq` of the report that created the counter (a resent creating report is told it created it). */
  createdBy?: string;
}

/** The oldest bucket that still counts in a rolling window at `now`. */
export function firstLiveBucket(r: BudgetRollingWindow, now: number): number {
  return Math.floor((now - r.windowMs) / r.bucketMs);
}

const origin = (u: BudgetCounterUpdate) => (u.seq === undefined ? undefined : `${u.holder}#${u.seq}`);

/**
 * Applies one update to a counter (null: it does not exist yet) and returns the new
 * document and state. `at` is the time the counter is judged by (leases, rolling
 * buckets): the store's own clock where the backend has one, else the reporter's.
 */
export function applyCounterUpdate(current: CounterDoc | null, u: BudgetCounterUpdate, at: number = u.now): { doc: CounterDoc; state: BudgetCounterState } {
  const doc: CounterDoc = current
    ? { ...current, leases: { ...current.leases }, ...(current.buckets ? { buckets: { ...current.buckets } } : {}) }
    : { key: u.key, used: Math.max(0, u.seed), limit: u.limit, expiresAt: u.expiresAt, leases: {}, ...(origin(u) ? { createdBy: origin(u) } : {}) };
  doc.limit = u.limit;
  doc.expiresAt = Math.max(doc.expiresAt, u.expiresAt);
  for (const [holder, lease] of Object.entries(doc.leases)) if ((lease.seen ?? lease.until) <= at) delete doc.leases[holder];
  const mine = doc.leases[u.holder];
  // A report numbered at or below the holder's last applied one was applied already (its
  // answer was lost): its usage is not added again; its lease request is served as usual.
  const repeat = u.seq !== undefined && mine?.seq !== undefined && u.seq <= mine.seq;
  if (u.rolling) applyRolling(doc, current === null, repeat ? { ...u, spentBuckets: [] } : u, u.rolling, at);
  else if (!repeat) doc.used += u.spent;
  let others = 0;
  for (const [holder, lease] of Object.entries(doc.leases)) if (holder !== u.holder && lease.until > at) others += lease.amount;
  const free = Math.max(0, doc.limit - doc.used - others);
  // Grant what is needed plus a share of the rest (capped by `want`), so a few processes
  // serve most checks from memory and the last of the budget is still split among them.
  const keep = Math.min(Math.max(0, u.keep), free);
  const need = Math.max(0, u.need);
  const own = need <= free ? Math.max(keep, Math.min(Math.max(u.want, need), need + Math.floor((free - need) * LEASE_SHARE))) : keep;
  // The lease's length is the reporter's; its end is on the counter's clock.
  const until = at + (u.leaseUntil - u.now);
  if (u.seq !== undefined) {
    doc.leases[u.holder] = { amount: own, inFlight: Math.max(0, u.inFlight), until, seq: Math.max(u.seq, mine?.seq ?? 0), seen: at + SEEN_MS };
  } else if (own > 0 || u.inFlight > 0) doc.leases[u.holder] = { amount: own, inFlight: Math.max(0, u.inFlight), until };
  else delete doc.leases[u.holder];
  const created = current === null || (repeat && doc.createdBy !== undefined && doc.createdBy === origin(u));
  return { doc, state: { ...stateOf(doc, at), granted: own, created } };
}

/** Adds a rolling report's buckets, drops the buckets that left the window and sets `used` to the sum of the rest. */
function applyRolling(doc: CounterDoc, created: boolean, u: BudgetCounterUpdate, r: BudgetRollingWindow, at: number): void {
  // A changed bucket size would misplace old buckets; the key names the window, so this only guards bad input.
  if (!doc.rolling || doc.rolling.bucketMs !== r.bucketMs) doc.buckets = {};
  doc.rolling = { windowMs: r.windowMs, bucketMs: r.bucketMs };
  const buckets = (doc.buckets ??= {});
  const add = (pairs: Array<[number, number]> | undefined) => {
    for (const [b, units] of pairs ?? []) if (units !== 0) buckets[b] = (buckets[b] ?? 0) + units;
  };
  if (created) add(u.seedBuckets);
  add(u.spentBuckets);
  const first = firstLiveBucket(r, at);
  let used = 0;
  for (const [b, units] of Object.entries(buckets)) {
    if (Number(b) < first) delete buckets[b];
    else used += units;
  }
  doc.used = Math.max(0, used);
}

/** The counter as every process sees it (expired leases, and buckets past a rolling window, left out); `granted` is 0. */
export function stateOf(doc: CounterDoc, now: number): BudgetCounterState {
  let leased = 0;
  let inFlight = 0;
  for (const lease of Object.values(doc.leases)) {
    if (lease.until <= now) continue;
    leased += lease.amount;
    inFlight += lease.inFlight;
  }
  if (!doc.rolling) return { key: doc.key, used: doc.used, leased, inFlight, granted: 0, created: false };
  const first = firstLiveBucket(doc.rolling, now);
  const buckets: Array<[number, number]> = [];
  let used = 0;
  for (const [b, units] of Object.entries(doc.buckets ?? {})) {
    if (Number(b) < first) continue;
    buckets.push([Number(b), units]);
    used += units;
  }
  return { key: doc.key, used: Math.max(0, used), leased, inFlight, granted: 0, created: false, buckets };
}
