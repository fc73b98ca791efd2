/**
 * A monitor whose writer feeds a budget guard. The writer's `onWritten` hook is
 * fixed when the monitor is built, so the guard is attached through a relay that
 * exists before either of them.
 */
import { createTokenMonitor, type TokenMonitorOptions, type TokenMonitoringService } from "../monitor/token-monitor.js";
import type { BudgetGuard, BudgetGuardOptions } from "./budget-guard.js";

export type BudgetedMonitorOptions = TokenMonitorOptions & {
  budget?: Omit<BudgetGuardOptions, "monitor">;
};

/**
 * Creates a monitor and its budget guard together, the guard fed by the writer's
 * `onWritten`. Limits from the environment (`DAILY_TOKEN_BUDGET`, ...,
 * `BUDGET_CONFIG_FILE`) come first; `budget.limits` are added to them; limits set
 * at run time through the guard are kept in the store.
 */
export function createBudgetedMonitor(options: BudgetedMonitorOptions = {}): { monitor: TokenMonitoringService; guard: BudgetGuard } {
  const { budget = {}, ...monitorOptions } = options;
  // The monitor's own guard: its flush() also reports the guard's usage to the shared counters.
  const monitor = createTokenMonitor({ ...monitorOptions, budget });
  return { monitor, guard: monitor.budget! };
}
