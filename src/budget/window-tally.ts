/**
 * The running total of one limit for one subject (everyone, or one user) in its
 * current period window. Checks read it in memory; it is seeded once per window
 * from the store's aggregates and kept current from finished calls and written
 * records. Amounts are integers: tokens, or nano-dollars for cost limits.
 */
import type { BudgetLimit } from "./limits.js";
import { windowAt, type PeriodWindow } from "./periods.js";

const MINUTE = 60_000;

export class WindowTally {
  window: PeriodWindow;
  /** Spend of finished calls in the window (calendar periods). */
  private committed = 0;
  /** Rolling windows: spend per minute, expired as the window slides. */
  private readonly minutes = new Map<number, number>();
  private minuteSum = 0;
  private evictedBefore = -Infinity;
  /** Estimates of calls admitted and not finished yet. */
  reserved = 0;
  /** Thresholds already alerted for this window (the store's claim makes it durable). */
  readonly alerted = new Set<number>();
  seeded = false;
  seeding: Promise<void> | null = null;
  /** The limit in the same unit as `used()`. */
  readonly limitAmount: number;
  readonly rollingHours: number | null;

  constructor(
    readonly limit: BudgetLimit,
    readonly subject: string | null,
    now: number,
  ) {
    this.window = windowAt(limit, now);
    this.limitAmount = limit.metric === "cost" ? Math.round(limit.amount * 1e9) : limit.amount;
    this.rollingHours = typeof limit.period === "object" ? limit.period.rollingHours : null;
  }

  /** False once `now` is past the window's end: a new tally (and seed) is due. */
  current(now: number): boolean {
    if (this.rollingHours !== null) {
      this.window = { start: now - this.rollingHours * 3_600_000, end: now, resetsAt: null };
      return true;
    }
    return now >= this.window.start && now < this.window.end;
  }

  /** Whether usage stamped at `at` counts in this window. */
  covers(at: number): boolean {
    if (this.rollingHours !== null) return Math.floor(at / MINUTE) >= Math.floor(this.window.start / MINUTE);
    return at >= this.window.start && at < this.window.end;
  }

  add(at: number, amount: number): void {
    if (amount === 0) return;
    if (this.rollingHours === null) {
      this.committed += amount;
      return;
    }
    const minute = Math.floor(at / MINUTE);
    if (minute < this.evictedBefore) return;
    this.minutes.set(minute, (this.minutes.get(minute) ?? 0) + amount);
    this.minuteSum += amount;
  }

  /** Spend of finished calls in the window containing `now` (call `current(now)` first). */
  used(now: number): number {
    if (this.rollingHours === null) return this.committed;
    // A minute bucket counts while any part of it is inside the window (never under-counts).
    const cutoff = Math.floor((now - this.rollingHours * 3_600_000) / MINUTE);
    if (cutoff > this.evictedBefore) {
      this.evictedBefore = cutoff;
      for (const [minute, amount] of this.minutes) {
        if (minute < cutoff) {
          this.minutes.delete(minute);
          this.minuteSum -= amount;
        }
      }
    }
    return this.minuteSum;
  }
}

/** Converts a tally unit back to what users see: tokens, or USD for cost. */
export function toDisplay(limit: BudgetLimit, units: number): number {
  return limit.metric === "cost" ? units / 1e9 : units;
}
