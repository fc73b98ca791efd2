/**
 * The running totals this process keeps, by limit, window and subject, and their release.
 *
 * Calendar tallies are filed per (limit, current window): when a window ends, the next
 * lookup of that limit starts a fresh bucket and the old one is simply dropped, so a
 * rollover costs O(1) on the call path whatever the number of users, and the ended
 * window's per-user memory goes with it. A tally of an ended window that still owes the
 * store a report stays reachable from `LeaseSync` (and from the reservations of its
 * calls in flight) until it has reported.
 */
import type { BudgetLimit } from "./limits.js";
import { windowAt } from "./periods.js";
import { SHARED_PARTITION, userOf } from "./scopes.js";
import type { LeaseSync } from "./lease-sync.js";
import { SharedTally } from "./shared-tally.js";
import type { Tally } from "./tally.js";
import { WindowTally } from "./window-tally.js";

interface WindowBucket {
  limit: BudgetLimit;
  start: number;
  end: number;
  tallies: Map<string, SharedTally>;
}

export class TallyIndex {
  private readonly calendar = new Map<string, WindowBucket>();
  private readonly rolling = new Map<string, WindowTally>();
  private serial = 0;

  constructor(
    private readonly holder: string,
    private readonly sync: LeaseSync,
  ) {}

  /** Tallies held for current windows. */
  get size(): number {
    let n = this.rolling.size;
    for (const b of this.calendar.values()) n += b.tallies.size;
    return n;
  }

  /** The tally of `limit` for `subject` in the window containing `now`, made if needed (no I/O). */
  get(limit: BudgetLimit, subject: string, now: number): Tally {
    if (typeof limit.period === "object") {
      const key = `${limit.id}\u0000${subject}`;
      let w = this.rolling.get(key);
      if (!w || w.limit !== limit) this.rolling.set(key, (w = new WindowTally(limit, subject, now)));
      w.current(now);
      return w;
    }
    let bucket = this.calendar.get(limit.id);
    if (!bucket || bucket.limit !== limit || now >= bucket.end || now < bucket.start) {
      const window = windowAt(limit, now);
      bucket = { limit, start: window.start, end: window.end, tallies: new Map() };
      this.calendar.set(limit.id, bucket);
    }
    let t = bucket.tallies.get(subject);
    if (!t) {
      const user = userOf(limit, subject);
      // One holder id per tally object: a replaced tally's lease is returned under its own name.
      t = new SharedTally(limit, subject, `${limit.id}|${subject}|${bucket.start}`, user ?? SHARED_PARTITION, `${this.holder}.${this.serial++}`, now);
      bucket.tallies.set(subject, t);
    }
    return t;
  }

  /** Existing tally of the current window only (no creation). */
  peek(limit: BudgetLimit, subject: string, now: number): Tally | undefined {
    if (typeof limit.period === "object") return this.rolling.get(`${limit.id}\u0000${subject}`);
    const bucket = this.calendar.get(limit.id);
    if (!bucket || bucket.limit !== limit || now >= bucket.end || now < bucket.start) return undefined;
    return bucket.tallies.get(subject);
  }

  /** Forgets every tally of these limits (changed or removed); their leases go back through `LeaseSync`. */
  dropLimits(ids: ReadonlySet<string>): void {
    for (const id of ids) this.calendar.delete(id);
    for (const [key, w] of this.rolling) if (ids.has(w.limit.id)) this.rolling.delete(key);
  }

  /** Drops rolling tallies idle for longer than their window (their usage has left it). */
  sweepRolling(now: number): void {
    for (const [key, w] of this.rolling) {
      if (w.held === 0 && now - w.lastActive > w.rollingHours * 3_600_000) this.rolling.delete(key);
    }
  }
}
