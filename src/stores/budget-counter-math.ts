/**
 * The arithmetic of a shared budget counter, written once for every backend: each
 * backend only reads the counter, applies this pure function and writes it back
 * atomically (a SQLite transaction, a Cosmos etag-guarded replace).
 *
 * A counter holds `used` (usage settled by every process) and one lease per process.
 * A grant never takes more than is free (limit - used - other live leases), so
 * used + live leases <= limit holds after every grant; only calls that use more than
 * their estimate push `used` past it (the overshoot bound in the README).
 */
import type { BudgetCounterState, BudgetCounterUpdate } from "./types.js";

/** The part of the free budget (beyond what it needs) a lease takes. */
export const LEASE_SHARE = 0.25;

export interface CounterLease {
  amount: number;
  inFlight: number;
  /** Epoch ms; the lease is dropped after it. */
  until: number;
}

export interface CounterDoc {
  key: string;
  used: number;
  limit: number;
  expiresAt: number;
  leases: Record<string, CounterLease>;
}

/** Applies one update to a counter (null: it does not exist yet) and returns the new document and state. */
export function applyCounterUpdate(current: CounterDoc | null, u: BudgetCounterUpdate): { doc: CounterDoc; state: BudgetCounterState } {
  const doc: CounterDoc = current
    ? { ...current, leases: { ...current.leases } }
    : { key: u.key, used: Math.max(0, u.seed), limit: u.limit, expiresAt: u.expiresAt, leases: {} };
  doc.limit = u.limit;
  doc.expiresAt = Math.max(doc.expiresAt, u.expiresAt);
  for (const [holder, lease] of Object.entries(doc.leases)) if (lease.until <= u.now) delete doc.leases[holder];
  doc.used += u.spent;
  let others = 0;
  for (const [holder, lease] of Object.entries(doc.leases)) if (holder !== u.holder) others += lease.amount;
  const free = Math.max(0, doc.limit - doc.used - others);
  // Grant what is needed plus a share of the rest (capped by `want`), so a few processes
  // serve most checks from memory and the last of the budget is still split among them.
  const keep = Math.min(Math.max(0, u.keep), free);
  const need = Math.max(0, u.need);
  const own = need <= free ? Math.max(keep, Math.min(Math.max(u.want, need), need + Math.floor((free - need) * LEASE_SHARE))) : keep;
  if (own > 0 || u.inFlight > 0) doc.leases[u.holder] = { amount: own, inFlight: Math.max(0, u.inFlight), until: u.leaseUntil };
  else delete doc.leases[u.holder];
  return { doc, state: { ...stateOf(doc, u.now), granted: own, created: current === null } };
}

/** The counter as every process sees it (expired leases left out); `granted` is 0. */
export function stateOf(doc: CounterDoc, now: number): BudgetCounterState {
  let leased = 0;
  let inFlight = 0;
  for (const lease of Object.values(doc.leases)) {
    if (lease.until <= now) continue;
    leased += lease.amount;
    inFlight += lease.inFlight;
  }
  return { key: doc.key, used: doc.used, leased, inFlight, granted: 0, created: false };
}
