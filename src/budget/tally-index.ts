/**
 * The running totals this process keeps, by (limit, subject), and their release.
 *
 * A calendar window's tally is filed under its window's end as well, so a rollover
 * visits only the tallies whose window ended (O(those), not O(users) per user), and
 * their memory goes with the window. A tally with calls still in flight or usage not
 * yet reported stays (its report goes to its own window's counter) until drained.
 */
import type { BudgetLimit } from "./limits.js";
import { windowAt } from "./periods.js";
import { SHARED_PARTITION, userOf } from "./scopes.js";
import { LeaseSync, SharedTally } from "./shared-tally.js";
import type { Tally } from "./tally.js";
import { WindowTally } from "./window-tally.js";

export class TallyIndex {
  private readonly live = new Map<string, Tally>();
  /** Calendar tallies by window end. */
  private readonly byEnd = new Map<number, Set<SharedTally>>();
  private readonly rolling = new Set<WindowTally>();
  /** Tallies replaced (window ended, limit changed) that still owe the store a report. */
  private readonly draining = new Set<SharedTally>();
  private serial = 0;

  constructor(
    private readonly holder: string,
    private readonly sync: LeaseSync,
  ) {}

  get size(): number {
    return this.live.size;
  }

  /** The tally of `limit` for `subject` in the window containing `now`, made if needed (no I/O). */
  get(limit: BudgetLimit, subject: string, now: number): Tally {
    const key = `${limit.id}\u0000${subject}`;
    const existing = this.live.get(key);
    if (existing && existing.limit === limit && existing.current(now)) return existing;
    if (existing) this.retire(key, existing);
    let t: Tally;
    if (typeof limit.period === "object") {
      const w = new WindowTally(limit, subject, now);
      this.rolling.add(w);
      t = w;
    } else {
      const user = userOf(limit, subject);
      const counterKey = `${limit.id}|${subject}|${windowAt(limit, now).start}`;
      // One holder id per tally object: a replaced tally's lease is returned under its own name.
      const s = new SharedTally(limit, subject, counterKey, user ?? SHARED_PARTITION, `${this.holder}.${this.serial++}`, now);
      let set = this.byEnd.get(s.window.end);
      if (!set) this.byEnd.set(s.window.end, (set = new Set()));
      set.add(s);
      this.sync.track(s);
      t = s;
    }
    this.live.set(key, t);
    return t;
  }

  /** Existing tally only (no creation). */
  peek(limit: BudgetLimit, subject: string): Tally | undefined {
    return this.live.get(`${limit.id}\u0000${subject}`);
  }

  /** Forgets every tally of these limits (changed or removed). */
  dropLimits(ids: ReadonlySet<string>): void {
    for (const [key, t] of this.live) if (ids.has(t.limit.id)) this.retire(key, t);
  }

  /**
   * Releases windows that ended before `now` and drained tallies. Costs the number of
   * tallies whose window ended, plus the rolling ones (idle ones are dropped).
   */
  sweep(now: number): void {
    for (const [end, set] of this.byEnd) {
      if (end > now) continue;
      this.byEnd.delete(end);
      for (const t of set) {
        const key = `${t.limit.id}\u0000${t.subject}`;
        if (this.live.get(key) === t) this.retire(key, t);
      }
    }
    for (const t of this.draining) {
      if (t.drained()) {
        this.draining.delete(t);
        this.sync.untrack(t);
      }
    }
    for (const w of this.rolling) {
      if (w.held === 0 && now - w.lastActive > w.rollingHours * 3_600_000) {
        this.rolling.delete(w);
        const key = `${w.limit.id}\u0000${w.subject}`;
        if (this.live.get(key) === w) this.live.delete(key);
      }
    }
  }

  /** Every tally this process knows (status of shared limits). */
  all(): Iterable<Tally> {
    return this.live.values();
  }

  private retire(key: string, t: Tally): void {
    this.live.delete(key);
    if (t instanceof WindowTally) {
      this.rolling.delete(t);
      return;
    }
    const s = t as SharedTally;
    this.byEnd.get(s.window.end)?.delete(s);
    if (s.drained()) this.sync.untrack(s);
    else this.draining.add(s);
  }
}
