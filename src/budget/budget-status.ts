/**
 * Status rows read the same from every process: calendar windows from the shared
 * counters in the store (after this process reported its own usage), other
 * processes' calls in flight as they last reported them. Reading status never
 * claims or sends an alert.
 */
import { statusRow, type BudgetStatus } from "./budget-report.js";
import type { BudgetMonitor } from "./guard-types.js";
import type { LeaseSync } from "./lease-sync.js";
import type { LimitRegistry } from "./limit-registry.js";
import { pastUsage } from "./past-usage.js";
import { isPerSubject } from "./scopes.js";
import { SharedTally } from "./shared-tally.js";
import type { TallyIndex } from "./tally-index.js";
import type { Tally } from "./tally.js";
import type { WindowTally } from "./window-tally.js";

export interface StatusDeps {
  monitor: BudgetMonitor;
  registry: LimitRegistry;
  tallies: TallyIndex;
  leases: LeaseSync;
  seedRolling: (t: WindowTally) => Promise<void>;
}

export async function readBudgetStatus(d: StatusDeps, now: number, userId: string | undefined, provider: string | undefined): Promise<BudgetStatus[]> {
  await d.registry.ensureLoaded(now);
  const rows: Array<{ t: Tally; used: number; inFlight: number }> = [];
  const shared: SharedTally[] = [];
  for (const limit of d.registry.forUser(userId, provider, provider === undefined)) {
    const subject = limit.scope === "user:*" ? userId! : isPerSubject(limit) ? undefined : "";
    if (subject === undefined) continue;
    const t = d.tallies.get(limit, subject, now);
    if (t instanceof SharedTally) shared.push(t);
    else {
      await d.seedRolling(t as WindowTally);
      rows.push({ t, used: t.used(now), inFlight: t.inFlight() });
    }
  }
  if (shared.length > 0) {
    // This process's own unreported usage goes first, so the counters are complete.
    await d.leases.flushDue();
    const states = await d.monitor.store.readBudgetCounters(shared.map((t) => ({ key: t.key, partition: t.partition })), now);
    for (const [i, t] of shared.entries()) {
      const s = states[i];
      // Other processes' calls in flight as they last reported them, this process's as they are now.
      const inFlight = (s ? Math.max(0, s.inFlight - (t.synced ? t.reportedInFlight : 0)) : 0) + t.held;
      rows.push({ t, used: s ? s.used : await pastUsage(d.monitor, t, t.window.start, t.window.end), inFlight });
    }
  }
  return rows.map(({ t, used, inFlight }) => statusRow(t, used, inFlight));
}
