/**
 * The CLI's budget guard: `createBudgetGuard` over the command's monitor, so limits
 * set here are kept in the same store the library and the server read. An embedding
 * app can supply its own guard with `setBudgetFactory`.
 */
import { createBudgetGuard } from "../budget/wiring.js";
import type { TokenMonitoringService } from "../monitor/token-monitor.js";
import type { BudgetApi } from "../server/types.js";

type BudgetFactory = (monitor: TokenMonitoringService) => BudgetApi | Promise<BudgetApi>;

let factory: BudgetFactory = (monitor) => createBudgetGuard(monitor);

export function setBudgetFactory(next: BudgetFactory): void {
  factory = next;
}

export async function openBudget(monitor: TokenMonitoringService): Promise<BudgetApi | undefined> {
  return factory(monitor);
}

/** Stops the guard's timers (alert delivery, counter reports) so the command can exit. */
export async function closeBudget(budget: BudgetApi | undefined): Promise<void> {
  await (budget as { close?: () => void | Promise<void> } | undefined)?.close?.();
}
