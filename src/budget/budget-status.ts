/**
 * Status rows read the same from every process: from the shared counters in the store (after this process reported its own usage), other
 * processes' calls in flight as they last reported them. Reading status never
 * claims or sends an alert.
 */
import { statusRow, type BudgetStatus } from "./budget-report.js";
import type { BudgetMonitor } from "./guard-types.js";
import type { LeaseSync } from "./lease-sync.js";
import type { LimitRegistry } from "./limit-registry.js";
import { seedUsage } from "./past-usage.js";
import { isPerSubject } from "./scopes.js";
import type { SharedTally } from "./shared-tally.js";
import type { TallyIndex } from "./tally-index.js";

export interface StatusDeps {
  monitor: BudgetMonitor;
  registry: LimitRegistry;
  tallies: TallyIndex;
  leases: LeaseSync;
}

export async function readBudgetStatus(d: StatusDeps, now: number, userId: string | undefined, provider: string | undefined): Promise<BudgetStatus[]> {
  await d.registry.ensureLoaded(now);
  const rows: Array<{ t: SharedTally; used: number; inFlight: number }> = [];
  const shared: SharedTally[] = [];
  for (const limit of d.registry.forUser(userId, provider, provider === undefined)) {
    const subject = limit.scope === "user:*" ? userId! : isPerSubject(limit) ? undefined : "";
    if (subject === undefined) continue;
    shared.push(d.tallies.get(limit, subject, now));
  }
  if (shared.length > 0) {
    // This process's own unreported usage goes first, so the counters are complete.
    await d.leases.flushDue();
    const states = await d.monitor.store.readBudgetCounters(shared.map((t) => ({ key: t.key, partition: t.partition })), now);
    for (const [i, t] of shared.entries()) {
      const s = states[i];
      // Other processes' calls in flight as they last reported them, this process's as they are now.
      const inFlight = (s ? Math.max(0, s.inFlight - (t.synced ? t.reportedInFlight : 0)) : 0) + t.held;
      rows.push({ t, used: s ? s.used : (await seedUsage(d.monitor, t, now)).reduce((n, r) => n + r.units, 0), inFlight });
    }
  }
  return rows.map(({ t, used, inFlight }) => statusRow(t, used, inFlight));
}
