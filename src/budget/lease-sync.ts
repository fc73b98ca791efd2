/**
 * The round trips of shared budget counters: each tally's report to the store, on
 * demand for a check that does not fit in its lease, in the background every
 * `reportIntervalMs` for settled usage, and when an idle lease is given back.
 */
import { SEEN_MS } from "../stores/budget-counter-math.js";
import type { UsageStore } from "../stores/types.js";
import type { Logger } from "../writer/buffered-writer.js";
import { isPermanent } from "../writer/failure-log.js";
import type { SharedTally } from "./shared-tally.js";

/** A lease unused this long is given back. */
const IDLE_RETURN_MS = 2_000;
const DEMAND_ATTEMPTS = 6;
/** Idle leases looked at per background tick: a rollover of many users is released over a few ticks. */
const MAX_IDLE_PER_TICK = 2_000;

export interface LeaseSyncOptions {
  store: UsageStore;
  logger: Logger;
  clock: () => number;
  /** Past usage of a counter's subject in its window, read when a process may create the counter. */
  seed: (t: SharedTally) => Promise<Array<{ at: number; units: number }>>;
  /** Called with every tally after the store answered (alerts). */
  onSynced: (t: SharedTally, now: number) => void;
  /** @default 250 */
  reportIntervalMs?: number;
}

/** Sends tallies' reports to the store: on demand for a check, and in the background. */
export class LeaseSync {
  readonly stats = { roundTrips: 0, reports: 0 };
  /** Tallies with usage not reported yet. */
  private readonly dirty = new Set<SharedTally>();
  /** Tallies holding a lease, least recently used first (idle ones are found without a scan). */
  private readonly leased = new Map<SharedTally, true>();
  private timer: NodeJS.Timeout | null = null;
  private readonly interval: number;
  private background: Promise<void> | null = null;

  constructor(private readonly o: LeaseSyncOptions) {
    this.interval = o.reportIntervalMs ?? 250;
  }

  /** Marks a tally as having usage to report. */
  track(t: SharedTally): void {
    this.dirty.add(t);
    this.startTimer();
  }

  /** A tally whose lease was just used moves to the young end of the idle order. */
  touch(t: SharedTally): void {
    if (t.granted <= 0) return;
    this.leased.delete(t);
    this.leased.set(t, true);
  }

  /** Reports `needs` (tally, lease it must reach) in one round trip, after any report already in flight for them. */
  async demand(needs: Array<[SharedTally, number]>): Promise<void> {
    // A busy store (another process holding SQLite's write lock, a 429) is retried for about
    // a second and a half before the caller fails open.
    for (let attempt = 1; ; attempt++) {
      // One report per tally at a time: two in flight would both carry the same unreported spend.
      while (needs.some(([t]) => t.syncing)) await Promise.all(needs.map(([t]) => t.syncing));
      const now = this.o.clock();
      const still = needs.filter(([t, amount]) => !t.synced || (t.blocking && !t.fits(amount, now)));
      if (still.length === 0) return;
      try {
        await this.send(still.map(([t, amount]) => [t, t.blocking ? t.held + amount : 0]));
        return;
      } catch (error) {
        // A store unusable as it is (refused credentials, a newer schema) will not answer within the call.
        if (attempt >= DEMAND_ATTEMPTS || isPermanent(error)) throw error;
        await new Promise((r) => setTimeout(r, 25 * 2 ** attempt * (0.5 + Math.random() / 2)));
      }
    }
  }

  /** Renews a lease in use before it lapses, in the background. */
  renew(t: SharedTally): void {
    if (t.syncing) return;
    this.send([[t, t.held]]).catch((error) => {
      this.o.logger.warn(`[token-tracking] budget lease renewal failed (retried): ${(error as Error).message}`);
    });
  }

  /**
   * Reports unreported usage, and gives back idle leases (at most `MAX_IDLE_PER_TICK` per
   * call, oldest first); `all` gives back every lease (close).
   */
  flush(all: boolean): Promise<void> {
    if (this.background && !all) return this.background;
    const now = this.o.clock();
    const due = new Map<SharedTally, number>();
    for (const t of this.dirty) {
      if (t.syncing) continue;
      this.dirty.delete(t);
      if (t.spent !== 0 || t.preSync !== 0) due.set(t, t.returning ? 0 : t.held);
    }
    let visited = 0;
    for (const t of this.leased.keys()) {
      if (!all && (now - t.lastActive <= IDLE_RETURN_MS || visited++ >= MAX_IDLE_PER_TICK)) break;
      if (t.syncing || t.held > 0) continue;
      this.leased.delete(t);
      // A window that ended needs no lease back (its counter is done): only unreported usage is owed.
      if (t.ended(now)) {
        t.granted = 0;
        continue;
      }
      if (t.granted > 0) {
        t.returning = true;
        due.set(t, 0);
      }
    }
    if (due.size === 0) return Promise.resolve();
    const run = this.send([...due]).catch((error) => {
      for (const t of due.keys()) this.dirty.add(t);
      this.o.logger.warn(`[token-tracking] budget counters could not be reported (retried): ${(error as Error).message}`);
    });
    this.background = run.finally(() => {
      this.background = null;
    });
    return this.background;
  }

  /** Waits for a report in flight, then reports whatever is due. */
  async flushDue(): Promise<void> {
    if (this.background) await this.background;
    await this.flush(false);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(false), this.interval);
    this.timer.unref();
  }

  private send(items: Array<[SharedTally, number]>): Promise<void> {
    const run = (async () => {
      const seeds = await Promise.all(
        items.map(([t]) => {
          if (t.synced) return [];
          t.seedIssued = true;
          return this.o.seed(t);
        }),
      );
      const now = this.o.clock();
      for (const [t] of items) {
        if (t.resendMayRepeat(now)) {
          this.o.logger.warn(`[token-tracking] budget counter ${t.key}: a report unanswered for over ${SEEN_MS / 60_000} minutes is resent; if the store applied it before, its usage counts twice`);
        }
      }
      const updates = items.map(([t, need], i) => t.report(now, need, seeds[i]));
      this.stats.roundTrips++;
      this.stats.reports += updates.length;
      const states = await this.o.store.updateBudgetCounters(updates);
      items.forEach(([t], i) => {
        t.absorb(states[i], updates[i], now);
        t.returning = false;
        if (t.granted > 0) this.touch(t);
        else this.leased.delete(t);
        if (t.spent !== 0 || t.preSync !== 0) this.dirty.add(t);
      });
      for (const [t] of items) this.o.onSynced(t, now);
    })();
    const done = run.finally(() => {
      for (const [t] of items) {
        if (t.syncing === done) t.syncing = null;
        t.returning = false;
      }
    });
    for (const [t] of items) t.syncing = done;
    this.startTimer();
    return done;
  }
}
