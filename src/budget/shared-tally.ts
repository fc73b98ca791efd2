/**
 * One shared running total of a window, and the lease that keeps its checks in memory.
 *
 * The store holds one counter per (limit, subject, window): `used` (settled usage of
 * every process) and one lease per process. A process admits a call from its own
 * lease without a round trip while the call's estimate fits in it
 * (`held + spent + estimate <= granted`); when it does not, one report to the store
 * (`LeaseSync.demand`) settles what this process spent and asks for the estimate
 * plus a quarter of what is free. A grant never exceeds what is free, so used plus
 * every lease stays within the limit, and each process hands out only its lease:
 * the overshoot bound of one process (calls using more than their estimate) holds
 * for the fleet. A lease not renewed within `LEASE_TTL_MS` lapses in the store (a
 * crashed process gives its share back). The round trips are `lease-sync.ts`.
 * A rolling window has one counter per (limit, subject) whose usage is kept in
 * buckets (`rolling-buckets.ts`); the same lease scheme applies, and this process
 * sees usage leave the window from the buckets of the store's last answer.
 */
import { SEEN_MS } from "../stores/budget-counter-math.js";
import type { BudgetCounterState, BudgetCounterUpdate, BudgetRollingWindow } from "../stores/types.js";
import type { BudgetLimit } from "./limits.js";
import { windowAt, type PeriodWindow } from "./periods.js";
import { BucketAmounts, bucketOf, liveSum, rollingWindowOf } from "./rolling-buckets.js";
import { limitUnits, type Tally } from "./tally.js";

/** A lease lapses in the store this long after its last report. */
export const LEASE_TTL_MS = 30_000;
/**
 * A process stops using its lease this long before the store would lapse it. The store
 * counts the lease from its own time when the report arrived (Cosmos DB: the service's
 * clock; SQLite: the one host's clock), after this process sent it, so only slow round
 * trips and the service's whole-second time need the margin, not host clock skew.
 */
const LEASE_MARGIN_MS = 5_000;
/** A store answer older than this no longer decides a refusal alone. */
const VIEW_FRESH_MS = 1_000;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export class SharedTally implements Tally {
  window: PeriodWindow;
  readonly limitAmount: number;
  readonly alerted = new Set<number>();
  refusalAlerted = false;
  /** The store's counter as of the last report, sent at `viewAt` (this process's clock). */
  view: BudgetCounterState | null = null;
  viewAt = 0;
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
  /** Set once a check used this tally (a tally made for stored records alone asks for no lease). */
  admits = false;
  /** Set while a lease is being given back: nothing is handed out from it meanwhile. */
  returning = false;
  lastActive: number;
  /** Until then, the store could not be reached and calls are let through (fail open). */
  failOpenUntil = 0;
  /** Rolling windows: the bucket layout, and `spent` and `preSync` by bucket. */
  readonly rolling: BudgetRollingWindow | null;
  private readonly spentBuckets = new BucketAmounts();
  private readonly preSyncBuckets = new BucketAmounts();

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
    this.rolling = rollingWindowOf(limit);
  }

  get synced(): boolean {
    return this.view !== null;
  }

  get blocking(): boolean {
    return this.limit.mode === "block";
  }

  current(now: number): boolean {
    if (!this.rolling) return now >= this.window.start && now < this.window.end;
    if (now !== this.window.end) this.window = windowAt(this.limit, now);
    return true;
  }

  covers(at: number): boolean {
    if (!this.rolling) return at >= this.window.start && at < this.window.end;
    return bucketOf(this.rolling, at) >= bucketOf(this.rolling, this.window.start);
  }

  /** Whether the window is over (its counter is done); a rolling window never is. */
  ended(now: number): boolean {
    return this.rolling === null && now >= this.window.end;
  }

  /** Settled usage in the store's last answer, as it stands at `now` (rolling windows lose the buckets that left). */
  private storeUsed(now: number): number {
    if (!this.view) return 0;
    return this.rolling && this.view.buckets ? liveSum(this.rolling, this.view.buckets, now) : this.view.used;
  }

  /** Whether the lease should be renewed (in use, and half its time gone). */
  renewDue(now: number): boolean {
    return this.granted > 0 && !this.syncing && this.leaseUntil - now < LEASE_TTL_MS / 2;
  }

  /** Whether `amount` more can be handed out from this process's lease now, with no round trip. */
  fits(amount: number, now: number): boolean {
    return !this.returning && now < this.leaseUntil && this.held + this.spent + amount <= this.granted;
  }

  used(now: number = this.window.end): number {
    return this.storeUsed(now) + this.spent + this.preSync;
  }

  inFlight(): number {
    return Math.max(0, (this.view?.inFlight ?? 0) - this.reportedInFlight) + this.held;
  }

  /** Whether another report could bring the lease up to `amount` more (by the store's last answer). */
  couldGet(amount: number, now: number): boolean {
    // Other processes' leases lapse or come back without this process hearing of it: an
    // answer older than a second is asked again (at most a round trip a second while refusing).
    if (!this.view || now - this.viewAt > VIEW_FRESH_MS || now < this.viewAt) return true;
    const others = this.view.leased - this.granted;
    return this.limitAmount - this.storeUsed(now) - this.spent - others >= this.held + amount;
  }

  /** Reports sent by this holder (each report's number). */
  private seq = 0;
  /** The last report sent, until its answer arrives (resent as it was if none does). */
  private inDoubt: BudgetCounterUpdate | null = null;
  private inDoubtSince = 0;

  /** Set once the seed read was issued: records observed later are not assumed to be in it. */
  seedIssued = false;

  add(at: number, amount: number, fromRecord: boolean): void {
    const pre = fromRecord && !this.synced && !this.seedIssued;
    if (pre) this.preSync += amount;
    else this.spent += amount;
    if (this.rolling) (pre ? this.preSyncBuckets : this.spentBuckets).add(bucketOf(this.rolling, at), amount);
  }

  /**
   * The report this tally sends; `need` is the lease it must end up with (0: no lease
   * wanted); `seed` is past usage read from the records (for a counter it may create).
   */
  report(now: number, need: number, seed: ReadonlyArray<{ at: number; units: number }>): BudgetCounterUpdate {
    const fresh = this.compose(now, need, seed);
    // A report that got no answer may have been applied: it is sent again as it was (same
    // number, same usage, same seed) with a fresh lease request, and the counter skips its
    // usage if it has it. Usage settled since waits for the next report.
    const d = this.inDoubt;
    const update: BudgetCounterUpdate = d
      ? { ...fresh, seq: d.seq, seed: d.seed, spent: d.spent, ...(d.rolling ? { seedBuckets: d.seedBuckets, spentBuckets: d.spentBuckets } : {}) }
      : { ...fresh, seq: ++this.seq };
    if (!d) this.inDoubtSince = now;
    this.inDoubt = update;
    return update;
  }

  /**
   * Whether the report being resent has waited for an answer so long that the counter may
   * have forgotten this holder's number (`SEEN_MS` after its last report reached the store):
   * if its first sending was applied, this one counts it again.
   */
  resendMayRepeat(now: number): boolean {
    // Said once per report.
    if (this.inDoubt === null || now - this.inDoubtSince < SEEN_MS || this.inDoubtSince < 0) return false;
    this.inDoubtSince = -1;
    return true;
  }

  private compose(now: number, need: number, seed: ReadonlyArray<{ at: number; units: number }>): BudgetCounterUpdate {
    // Only a tally that admits calls asks for a lease: one that only counts records does not hold room.
    const lease = this.blocking && !this.returning && this.admits;
    const r = this.rolling;
    let seedBuckets: Array<[number, number]> | undefined;
    if (r) {
      const b = new BucketAmounts();
      for (const s of seed) b.add(bucketOf(r, s.at), s.units);
      seedBuckets = b.pairs();
    }
    return {
      key: this.key,
      partition: this.partition,
      // A rolling counter lives while a bucket of it can count.
      expiresAt: r ? now + r.windowMs + r.bucketMs : this.window.end,
      limit: this.limitAmount,
      seed: seed.reduce((n, s) => n + s.units, 0),
      ...(r ? { rolling: r, seedBuckets, spentBuckets: this.spentBuckets.pairs() } : {}),
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
    this.inDoubt = null;
    this.viewAt = sentAt;
    this.view = state;
    this.granted = state.granted;
    this.spent -= sent.spent;
    this.spentBuckets.subtract(sent.spentBuckets ?? []);
    this.reportedInFlight = sent.inFlight;
    this.leaseUntil = state.granted > 0 ? sentAt + LEASE_TTL_MS - LEASE_MARGIN_MS : 0;
    if (first) {
      // A counter this process created started from the records, which hold what it saw.
      if (!state.created) {
        this.spent += this.preSync;
        this.spentBuckets.merge(this.preSyncBuckets);
      }
      this.preSync = 0;
      this.preSyncBuckets.clear();
    }
  }

  /** Nothing left to report or give back: the tally can be forgotten. */
  drained(): boolean {
    return this.held === 0 && this.spent === 0 && this.preSync === 0 && this.granted === 0 && !this.syncing;
  }
}
