/**
 * Where the CLI gets a budget guard. The guard (`src/budget/`) is built beside this
 * CLI; until it is wired here, budget commands say budgets are unavailable.
 * Integration point: return the guard for `monitor` from `openBudget`.
 */
import type { TokenMonitoringService } from "../monitor/token-monitor.js";
import type { BudgetApi } from "../server/types.js";

type BudgetFactory = (monitor: TokenMonitoringService) => BudgetApi | Promise<BudgetApi>;

let factory: BudgetFactory | undefined;

/** Lets the package (or an embedding app) supply the guard the CLI should use. */
export function setBudgetFactory(next: BudgetFactory | undefined): void {
  factory = next;
}

export async function openBudget(monitor: TokenMonitoringService): Promise<BudgetApi | undefined> {
  return factory ? factory(monitor) : undefined;
}
