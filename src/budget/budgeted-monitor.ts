/**
 * Wiring: a monitor whose writer feeds a budget guard. The writer's `onWritten`
 * hook is fixed when the monitor is built, so the guard is attached through a
 * relay that exists before either of them.
 */
import { createTokenMonitor, type TokenMonitorOptions, type TokenMonitoringService } from "../monitor/token-monitor.js";
import type { UsageRecord } from "../record/types.js";
import { BudgetGuard, type BudgetGuardOptions } from "./budget-guard.js";
import { budgetConfigFromEnv } from "./env-config.js";

export type BudgetedMonitorOptions = TokenMonitorOptions & {
  budget?: Omit<BudgetGuardOptions, "monitor">;
};

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
  monitor: TokenMonitoringService,
  options: Omit<BudgetGuardOptions, "monitor"> & { env?: NodeJS.ProcessEnv } = {},
): BudgetGuard {
  const { env = process.env, ...budget } = options;
  const fromEnv = budgetConfigFromEnv(env);
  return new BudgetGuard({
    defaultMode: fromEnv.mode,
    enabled: monitor.enabled && fromEnv.enabled,
    ...(fromEnv.webhook ? { webhook: fromEnv.webhook } : {}),
    ...budget,
    limits: [...fromEnv.limits, ...(budget.limits ?? [])],
    monitor,
  });
}

/**
 * Creates a monitor and its budget guard together, the guard fed by the writer's
 * `onWritten`. Limits from the environment (`DAILY_TOKEN_BUDGET`, ...,
 * `BUDGET_CONFIG_FILE`) come first; `budget.limits` are added to them; limits set
 * at run time through the guard are kept in the store.
 */
export function createBudgetedMonitor(options: BudgetedMonitorOptions = {}): { monitor: TokenMonitoringService; guard: BudgetGuard } {
  const { budget = {}, ...monitorOptions } = options;
  const relay = budgetWriteRelay(monitorOptions.writer?.onWritten);
  const monitor = createTokenMonitor({ ...monitorOptions, writer: { ...monitorOptions.writer, onWritten: relay.onWritten } });
  const guard = createBudgetGuard(monitor, { ...budget, env: options.env ?? process.env });
  relay.attach(guard);
  return { monitor, guard };
}
