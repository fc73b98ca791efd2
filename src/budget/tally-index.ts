/**
 * The running totals this process keeps, by limit, window and subject, and their release.
 *
 * Calendar tallies are filed per (limit, current window): when a window ends, the next
 * lookup of that limit starts a fresh bucket and the old one is simply dropped, so a
 * rollover costs O(1) on the call path whatever the number of users, and the ended
 * window's per-user memory goes with it. A rolling window has one tally per (limit,
 * subject) that slides; idle ones are swept off the call path. A tally that still owes
 * the store a report stays reachable from `LeaseSync` (and from the reservations of
 * its calls in flight) until it has reported.
 */
import type { BudgetLimit } from "./limits.js";
import { windowAt } from "./periods.js";
import { SHARED_PARTITION, userOf } from "./scopes.js";
import { SharedTally } from "./shared-tally.js";

interface WindowBucket {
  limit: BudgetLimit;
  start: number;
  end: number;
  tallies: Map<string, SharedTally>;
}

/** A rolling tally idle this long is forgotten here (its counter stays in the store). */
const ROLLING_IDLE_MS = 5 * 60_000;

export class TallyIndex {
  private readonly calendar = new Map<string, WindowBucket>();
  private readonly rolling = new Map<string, SharedTally>();
  private serial = 0;

  constructor(private readonly holder: string) {}

  /** Tallies held for current windows. */
  get size(): number {
    let n = this.rolling.size;
    for (const b of this.calendar.values()) n += b.tallies.size;
    return n;
  }

  /** The tally of `limit` for `subject` in the window containing `now`, made if needed (no I/O). */
  get(limit: BudgetLimit, subject: string, now: number): SharedTally {
    if (typeof limit.period === "object") {
      const key = `${limit.id}\u0000${subject}`;
      let t = this.rolling.get(key);
      // The window's length is in the counter's key: a changed length starts a new counter.
      if (!t || t.limit !== limit) this.rolling.set(key, (t = this.make(limit, subject, `rolling${limit.period.rollingHours}h`, now)));
      t.current(now);
      return t;
    }
    let bucket = this.calendar.get(limit.id);
    if (!bucket || bucket.limit !== limit || now >= bucket.end || now < bucket.start) {
      const window = windowAt(limit, now);
      bucket = { limit, start: window.start, end: window.end, tallies: new Map() };
      this.calendar.set(limit.id, bucket);
    }
    let t = bucket.tallies.get(subject);
    if (!t) bucket.tallies.set(subject, (t = this.make(limit, subject, String(bucket.start), now)));
    return t;
  }

  /** Existing tally of the current window only (no creation). */
  peek(limit: BudgetLimit, subject: string, now: number): SharedTally | undefined {
    if (typeof limit.period === "object") {
      const t = this.rolling.get(`${limit.id}\u0000${subject}`);
      if (t?.limit !== limit) return undefined;
      t.current(now);
      return t;
    }
    const bucket = this.calendar.get(limit.id);
    if (!bucket || bucket.limit !== limit || now >= bucket.end || now < bucket.start) return undefined;
    return bucket.tallies.get(subject);
  }

  /** Forgets every tally of these limits (changed or removed); their leases go back through `LeaseSync`. */
  dropLimits(ids: ReadonlySet<string>): void {
    for (const id of ids) this.calendar.delete(id);
    for (const [key, t] of this.rolling) if (ids.has(t.limit.id)) this.rolling.delete(key);
  }

  /** Drops rolling tallies idle for a while with no call in flight (a later call starts from the store's counter). */
  sweepRolling(now: number): void {
    for (const [key, t] of this.rolling) {
      if (t.held === 0 && now - t.lastActive > ROLLING_IDLE_MS) this.rolling.delete(key);
    }
  }

  private make(limit: BudgetLimit, subject: string, window: string, now: number): SharedTally {
    const user = userOf(limit, subject);
    // One holder id per tally object: a replaced tally's lease is returned under its own name.
    return new SharedTally(limit, subject, `${limit.id}|${subject}|${window}`, user ?? SHARED_PARTITION, `${this.holder}.${this.serial++}`, now);
  }
}
