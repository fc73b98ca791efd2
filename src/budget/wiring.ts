/**
 * Wiring a guard to a monitor without importing the monitor's module (it only needs
 * its shape), so `token-monitor.ts` itself can build its guard from here.
 */
import type { UsageRecord } from "../record/types.js";
import { BudgetGuard, type BudgetGuardOptions, type BudgetMonitor } from "./budget-guard.js";
import { budgetConfigFromEnv } from "./env-config.js";

/** A `WriterOptions.onWritten` listener that forwards to a guard once one is attached. */
export function budgetWriteRelay(next?: (records: UsageRecord[], inserted: number) => void) {
  let guard: BudgetGuard | undefined;
  return {
    onWritten(records: UsageRecord[], inserted: number): void {
      next?.(records, inserted);
      guard?.observe(records, inserted);
    },
    attach(g: BudgetGuard): void {
      guard = g;
    },
  };
}

/**
 * A guard for an existing monitor, configured like `createBudgetedMonitor` (limits
 * from the environment first, then `options.limits`). Without the writer relay it
 * sees usage through its handler and its per-window seeds only: enough for the CLI
 * and the server, which manage limits and read status.
 */
export function createBudgetGuard(
  monitor: BudgetMonitor & { readonly enabled?: boolean },
  options: Omit<BudgetGuardOptions, "monitor"> & { env?: NodeJS.ProcessEnv } = {},
): BudgetGuard {
  const { env = process.env, ...budget } = options;
  const fromEnv = budgetConfigFromEnv(env);
  return new BudgetGuard({
    defaultMode: fromEnv.mode,
    enabled: (monitor.enabled ?? true) && fromEnv.enabled,
    ...(fromEnv.webhook ? { webhook: fromEnv.webhook } : {}),
    ...budget,
    limits: [...fromEnv.limits, ...(budget.limits ?? [])],
    monitor,
  });
}
