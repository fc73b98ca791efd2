/** Budgets and alerts: public API (re-exports only). */
export {
  BudgetGuard,
  type BudgetGuardOptions,
  type BudgetMonitor,
  type BudgetStatus,
  type BudgetState,
  type BudgetDecision,
  type CheckOptions,
  type ReserveRequest,
} from "./budget-guard.js";
export { BudgetGuardHandler, type BudgetGuardHandlerOptions } from "./guard-handler.js";
export {
  normalizeLimit,
  subscriptionLimit,
  applicableLimits,
  defaultLimitId,
  DEFAULT_THRESHOLDS,
  type BudgetLimit,
  type BudgetLimitInput,
  type BudgetMetric,
  type BudgetMode,
  type BudgetPeriod,
  type BudgetScope,
  type BillingCycle,
  type SubscriptionKind,
} from "./limits.js";
export { windowAt, zonedInstant, type PeriodWindow, type PeriodSpec } from "./periods.js";
export { estimatePromptTokens, declaredMaxOutputTokens, type UsageAmount, type EstimateOptions } from "./reservations.js";
export { AlertDispatcher, WebhookSink, formatAlert, type BudgetAlert, type AlertLevel, type WebhookOptions, type AlertSinkOptions } from "./alerts.js";
export { budgetConfigFromEnv, loadBudgetConfigFile, parseBudgetConfig, type BudgetConfig, type BudgetFileConfig } from "./env-config.js";
export { createBudgetGuard, budgetWriteRelay } from "./wiring.js";
export { createBudgetedMonitor, type BudgetedMonitorOptions } from "./budgeted-monitor.js";
