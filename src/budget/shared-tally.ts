/**
 * Shared running totals of calendar windows, and the leases that keep checks in memory.
 *
 * The store holds one counter per (limit, subject, window): `used` (settled usage of
 * every process) and one lease per process. A process admits a call from its own
 * lease without a round trip while the call's estimate fits in it
 * (`held + spent + estimate <= granted`); when it does not, one report to the store
 * (`LeaseSync.demand`) settles what this process spent and asks for the estimate
 * plus a quarter of what is free. A grant never exceeds what is free, so used plus
 * every lease stays within the limit, and each process hands out only its lease:
 * the overshoot bound of one process (calls using more than their estimate) holds
 * for the fleet. Settled usage is reported every `reportIntervalMs`; a lease not
 * renewed within `LEASE_TTL_MS` lapses in the store (a crashed process gives its
 * share back), and an idle process returns its lease.
 */
import type { BudgetCounterState, BudgetCounterUpdate, UsageStore } from "../stores/types.js";
import type { Logger } from "../writer/buffered-writer.js";
import type { BudgetLimit } from "./limits.js";
import { windowAt, type PeriodWindow } from "./periods.js";
import { limitUnits, type Tally } from "./tally.js";

/** A lease lapses in the store this long after its last report. */
export const LEASE_TTL_MS = 30_000;
/** A process stops using its lease this long before the store would lapse it (clock skew, slow round trips). */
const LEASE_MARGIN_MS = 5_000;
/** A lease unused this long is given back. */
const IDLE_RETURN_MS = 2_000;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const DEMAND_ATTEMPTS = 6;
/** Idle leases looked at per background tick: a rollover of many users is released over a few ticks. */
const MAX_IDLE_PER_TICK = 2_000;

export class SharedTally implements Tally {
  window: PeriodWindow;
  readonly limitAmount: number;
  readonly alerted = new Set<number>();
  refusalAlerted = false;
  /** The store's counter as of the last report. */
  view: BudgetCounterState | null = null;
  granted = 0;
  leaseUntil = 0;
  held = 0;
  /** Settled here and not reported yet. */
  spent = 0;
  /** Usage of stored records seen before the first report (dropped if this process creates the counter from the records). */
  preSync = 0;
  /** `held` as last reported (the store's in-flight sum includes it). */
  reportedInFlight = 0;
  syncing: Promise<void> | null = null;
  /** Set while a lease is being given back: nothing is handed out from it meanwhile. */
  returning = false;
  lastActive: number;
  /** Until then, the store could not be reached and calls are let through (fail open). */
  failOpenUntil = 0;

  constructor(
    readonly limit: BudgetLimit,
    readonly subject: string,
    readonly key: string,
    readonly partition: string,
    readonly holder: string,
    now: number,
  ) {
    this.window = windowAt(limit, now);
    this.limitAmount = limitUnits(limit);
    this.lastActive = now;
  }

  get synced(): boolean {
    return this.view !== null;
  }

  get blocking(): boolean {
    return this.limit.mode === "block";
  }

  current(now: number): boolean {
    return now >= this.window.start && now < this.window.end;
  }

  covers(at: number): boolean {
    return at >= this.window.start && at < this.window.end;
  }

  /** Whether the lease should be renewed (in use, and half its time gone). */
  renewDue(now: number): boolean {
    return this.granted > 0 && !this.syncing && this.leaseUntil - now < LEASE_TTL_MS / 2;
  }

  /** Whether `amount` more can be handed out from this process's lease now, with no round trip. */
  fits(amount: number, now: number): boolean {
    return !this.returning && now < this.leaseUntil && this.held + this.spent + amount <= this.granted;
  }

  used(): number {
    return (this.view?.used ?? 0) + this.spent + this.preSync;
  }

  inFlight(): number {
    return Math.max(0, (this.view?.inFlight ?? 0) - this.reportedInFlight) + this.held;
  }

  /** Whether another report could bring the lease up to `amount` more (by the store's last answer). */
  couldGet(amount: number): boolean {
    if (!this.view) return true;
    const others = this.view.leased - this.granted;
    return this.limitAmount - this.view.used - this.spent - others >= this.held + amount;
  }

  /** What is left for anyone, as far as this process knows. */
  free(): number {
    return this.limitAmount - this.used() - this.inFlight();
  }

  /** Set once the seed read was issued: records observed later are not assumed to be in it. */
  seedIssued = false;

  add(_at: number, amount: number, fromRecord: boolean): void {
    if (fromRecord && !this.synced && !this.seedIssued) this.preSync += amount;
    else this.spent += amount;
  }

  /** The report this tally sends; `need` is the lease it must end up with (0: no lease wanted). */
  report(now: number, need: number, seed: number): BudgetCounterUpdate {
    const lease = this.blocking && !this.returning;
    return {
      key: this.key,
      partition: this.partition,
      expiresAt: this.window.end,
      limit: this.limitAmount,
      seed,
      holder: this.holder,
      spent: this.spent,
      inFlight: this.held,
      need: lease ? need : 0,
      want: lease ? MAX_SAFE : 0,
      keep: lease && now < this.leaseUntil ? Math.max(0, this.granted - this.spent) : 0,
      leaseUntil: now + LEASE_TTL_MS,
      now,
    };
  }

  /** Applies the store's answer to a report sent at `sentAt`. */
  absorb(state: BudgetCounterState, sent: BudgetCounterUpdate, sentAt: number): void {
    const first = !this.synced;
    this.view = state;
    this.granted = state.granted;
    this.spent -= sent.spent;
    this.reportedInFlight = sent.inFlight;
    this.leaseUntil = state.granted > 0 ? sentAt + LEASE_TTL_MS - LEASE_MARGIN_MS : 0;
    if (first) {
      // A counter this process created started from the records, which hold what it saw.
      if (!state.created) this.spent += this.preSync;
      this.preSync = 0;
    }
  }

  /** Nothing left to report or give back: the tally can be forgotten. */
  drained(): boolean {
    return this.held === 0 && this.spent === 0 && this.preSync === 0 && this.granted === 0 && !this.syncing;
  }
}

export interface LeaseSyncOptions {
  store: UsageStore;
  logger: Logger;
  clock: () => number;
  /** Past usage of a counter's subject in its window, read when a process may create the counter. */
  seed: (t: SharedTally) => Promise<number>;
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
        if (attempt >= DEMAND_ATTEMPTS) throw error;
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
      if (now >= t.window.end) {
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
          if (t.synced) return 0;
          t.seedIssued = true;
          return this.o.seed(t);
        }),
      );
      const now = this.o.clock();
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
