/**
 * A monitor whose writer feeds a budget guard. The writer's `onWritten` hook is
 * fixed when the monitor is built, so the guard is attached through a relay that
 * exists before either of them.
 */
import { createTokenMonitor, type TokenMonitorOptions, type TokenMonitoringService } from "../monitor/token-monitor.js";
import type { BudgetGuard, BudgetGuardOptions } from "./budget-guard.js";
import { budgetWriteRelay, createBudgetGuard } from "./wiring.js";

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
  const relay = budgetWriteRelay(monitorOptions.writer?.onWritten);
  const monitor = createTokenMonitor({ ...monitorOptions, writer: { ...monitorOptions.writer, onWritten: relay.onWritten } });
  const guard = createBudgetGuard(monitor, { ...budget, env: options.env ?? process.env });
  relay.attach(guard);
  return { monitor, guard };
}
