/**
 * A call reaches the budget counters by two paths: its guard settles it when it ends
 * (at once, so a runaway agent is stopped early), and its record is observed when the
 * writer stores it (calls no guard saw count too). `CountedCalls` remembers what the
 * first path counted of each call, by id, so the second adds only the difference.
 *
 * Usually the settle comes first and the record a second later. The record can also
 * come first (a reservation settled by hand after `monitor.flush()`), or much later
 * (held in the spill journal through a store outage). So an entry is kept until the
 * other path takes it; entries are forgotten after `ttlMs` only while the writer holds
 * nothing back (a call whose record never comes: tracking off, a guard used alone).
 * Past `maxEntries`, the oldest are forgotten first: their record, if it comes, counts
 * again. Counting a call twice makes a budget stricter, never looser.
 */
import type { UsageAmount } from "./reservations.js";

export interface CountedCall extends UsageAmount {
  /** Which path counted it: the guard's settle, or the stored record. */
  by: "settle" | "record";
  at: number;
}

export class CountedCalls {
  private readonly calls = new Map<string, CountedCall>();
  /** Entries forgotten before the other path came (over `maxEntries`), since start. */
  forgotten = 0;

  constructor(private readonly maxEntries = 250_000) {}

  get size(): number {
    return this.calls.size;
  }

  add(id: string, call: CountedCall): void {
    this.calls.delete(id); // re-inserted last: the map stays in arrival order
    this.calls.set(id, call);
    if (this.calls.size > this.maxEntries) {
      const oldest = this.calls.keys().next().value as string;
      this.calls.delete(oldest);
      this.forgotten++;
    }
  }

  /** The entry of `id` counted by the `by` path, removed; undefined when there is none. */
  take(id: string, by: CountedCall["by"]): CountedCall | undefined {
    const c = this.calls.get(id);
    if (!c || c.by !== by) return undefined;
    this.calls.delete(id);
    return c;
  }

  /** Forgets entries counted before `before` (their other path never came). */
  expire(before: number): number {
    let n = 0;
    for (const [id, c] of this.calls) {
      if (c.at >= before) break; // arrival order: the rest are newer
      this.calls.delete(id);
      n++;
    }
    return n;
  }
}
