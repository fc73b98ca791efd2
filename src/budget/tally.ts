/**
 * What reports and reservations ask of a running total (a shared counter whose truth
 * is in the store, see `shared-tally.ts`), and the unit conversions of a limit.
 */
import type { BudgetLimit } from "./limits.js";
import type { PeriodWindow } from "./periods.js";
import type { UsageAmount } from "./reservations.js";

export interface Tally {
  readonly limit: BudgetLimit;
  /** "" for a limit with one counter; the user, agent, model or value of a `*` scope. */
  readonly subject: string;
  window: PeriodWindow;
  /** The limit in tally units: tokens, requests or nano-dollars. */
  readonly limitAmount: number;
  /** Thresholds alerted in this window (the store's claim makes it durable). */
  readonly alerted: Set<number>;
  refusalAlerted: boolean;
  /** Estimates of this process's calls in flight. */
  held: number;
  /** False once `now` is past the window's end. */
  current(now: number): boolean;
  /** Whether usage stamped at `at` counts in this window. */
  covers(at: number): boolean;
  /** Settled usage in the window, as far as this process knows (every process's for shared counters). */
  used(now: number): number;
  /** Held by calls in flight: this process's, plus what other processes last reported. */
  inFlight(): number;
  /** Adds settled usage; `fromRecord` when it comes from a stored record rather than a settled call. */
  add(at: number, amount: number, fromRecord: boolean): void;
}

/** A call's usage in a limit's unit. */
export function unitsOf(limit: BudgetLimit, amount: UsageAmount): number {
  return limit.metric === "cost" ? amount.costNanos : limit.metric === "requests" ? 1 : amount.tokens;
}

/**
 * What one of a call's two paths (its settle, its stored record) adds: the amount (or the
 * difference from what the other counted), and its one request only if the other has not.
 */
export function unitsAdded(limit: BudgetLimit, amount: UsageAmount, otherCounted: boolean): number {
  return limit.metric === "requests" ? (otherCounted ? 0 : 1) : unitsOf(limit, amount);
}

/** Converts a tally unit back to what users see: tokens, requests, or USD for cost. */
export function toDisplay(limit: BudgetLimit, units: number): number {
  return limit.metric === "cost" ? units / 1e9 : units;
}

export function limitUnits(limit: BudgetLimit): number {
  return limit.metric === "cost" ? Math.round(limit.amount * 1e9) : limit.amount;
}
