/**
 * A rolling window's running total, kept in this process: spend per minute, seeded
 * once from the store's hourly aggregates and kept current from settled calls and
 * written records. (Rolling windows slide, so they have no fixed counter to share;
 * calendar windows use shared counters, see `shared-tally.ts`.)
 */
import type { BudgetLimit } from "./limits.js";
import type { PeriodWindow } from "./periods.js";
import { limitUnits, type Tally } from "./tally.js";

const MINUTE = 60_000;

export class WindowTally implements Tally {
  window: PeriodWindow;
  private readonly minutes = new Map<number, number>();
  private minuteSum = 0;
  private evictedBefore = -Infinity;
  held = 0;
  readonly alerted = new Set<number>();
  refusalAlerted = false;
  seeded = false;
  seeding: Promise<void> | null = null;
  readonly limitAmount: number;
  readonly rollingHours: number;
  lastActive: number;

  constructor(
    readonly limit: BudgetLimit,
    readonly subject: string,
    now: number,
  ) {
    this.rollingHours = typeof limit.period === "object" ? limit.period.rollingHours : 1;
    this.window = { start: now - this.rollingHours * 3_600_000, end: now, resetsAt: null };
    this.limitAmount = limitUnits(limit);
    this.lastActive = now;
  }

  current(now: number): boolean {
    this.window = { start: now - this.rollingHours * 3_600_000, end: now, resetsAt: null };
    this.lastActive = now;
    return true;
  }

  covers(at: number): boolean {
    return Math.floor(at / MINUTE) >= Math.floor(this.window.start / MINUTE);
  }

  inFlight(): number {
    return this.held;
  }

  add(at: number, amount: number): void {
    if (amount === 0) return;
    const minute = Math.floor(at / MINUTE);
    if (minute < this.evictedBefore) return;
    this.minutes.set(minute, (this.minutes.get(minute) ?? 0) + amount);
    this.minuteSum += amount;
  }

  used(now: number): number {
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
