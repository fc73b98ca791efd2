/**
 * Rolling windows shared by every process: usage is kept per bucket of a fraction of
 * the window (its length in hours, in minutes: 1 minute for `rollingHours: 1`, 24
 * minutes for 24 hours; always 60 buckets plus the one in progress), aligned on the
 * epoch so every process files a call in the same bucket. A bucket counts while any
 * part of it is inside the window, so usage leaves the window a whole bucket at a
 * time, at most one bucket (1/60 of the window) later than its exact time: the
 * window never under-counts.
 */
import type { BudgetRollingWindow } from "../stores/types.js";
import type { BudgetLimit } from "./limits.js";

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** Buckets per window: bounds the counter document (one read) whatever the window's length. */
export const BUCKETS_PER_WINDOW = 60;

/** The bucket layout of a rolling limit; null for calendar periods. */
export function rollingWindowOf(limit: BudgetLimit): BudgetRollingWindow | null {
  if (typeof limit.period !== "object") return null;
  const windowMs = limit.period.rollingHours * HOUR;
  return { windowMs, bucketMs: Math.max(MINUTE, Math.floor(windowMs / BUCKETS_PER_WINDOW / MINUTE) * MINUTE) };
}

export function bucketOf(r: BudgetRollingWindow, at: number): number {
  return Math.floor(at / r.bucketMs);
}

/** Units per bucket index, not reported to the store yet. */
export class BucketAmounts {
  private readonly map = new Map<number, number>();

  add(bucket: number, units: number): void {
    if (units === 0) return;
    const n = (this.map.get(bucket) ?? 0) + units;
    if (n === 0) this.map.delete(bucket);
    else this.map.set(bucket, n);
  }

  /** Takes off what a report carried (more may have been added since it was sent). */
  subtract(pairs: ReadonlyArray<[number, number]>): void {
    for (const [b, units] of pairs) this.add(b, -units);
  }

  merge(other: BucketAmounts): void {
    for (const [b, units] of other.map) this.add(b, units);
  }

  pairs(): Array<[number, number]> {
    return [...this.map];
  }

  clear(): void {
    this.map.clear();
  }
}

/** Sum of the buckets that still count at `now`. */
export function liveSum(r: BudgetRollingWindow, pairs: ReadonlyArray<[number, number]>, now: number): number {
  const first = Math.floor((now - r.windowMs) / r.bucketMs);
  let n = 0;
  for (const [b, units] of pairs) if (b >= first) n += units;
  return n;
}
