/**
 * Public API: re-exports only. Each name here is a promise to users; helpers and tuning
 * constants stay in their modules (what left this list is in the README's Changelog).
 */
export {
  TokenTrackingError,
  ValidationError,
  PricingConfigError,
  StoreError,
  MissingDependencyError,
  InvalidCursorError,
  ClosedError,
  BudgetExceededError,
  type BudgetExceededDetails,
} from "./errors.js";
export type { EnvConfig, StoreKind } from "./config.js";

// Records: the camelCase shape the API returns, and the snake_case shape stores keep.
export { ANONYMOUS_USER, type OperationType, type TokenCounts, type UsageRecord, type StoredUsageRecord } from "./record/types.js";
export { toStored, fromStored } from "./record/mapping.js";
export type { UsageInput } from "./record/build-record.js";

export { createPricer, calculateCost, loadPricingOverridesFile, loadLiteLLMPrices } from "./pricing/index.js";
export type {
  CostUsage,
  CostContext,
  CostResult,
  Pricer,
  PricingLogger,
  PricingOptions,
  ModelPriceOverride,
  PriceTierOverride,
} from "./pricing/index.js";

export { TokenTrackingCallbackHandler, type TokenTrackingHandlerOptions } from "./handler/token-tracking-handler.js";
export { attachTokenTracking, createTokenTrackingCallback, type AttachOptions } from "./handler/attach.js";

export {
  TokenMonitoringService,
  createTokenMonitor,
  getTokenMonitor,
  setTokenMonitor,
  type TokenMonitorOptions,
  type HandlerOptions,
  type RepriceOptions,
} from "./monitor/token-monitor.js";

export { withTokenTracking, type WithTokenTrackingOptions } from "./manual/with-token-tracking.js";
export { trackEmbeddings, type TrackEmbeddingsOptions } from "./manual/track-embeddings.js";

export type { QueryOptions, ListOptions, RecordPage, GroupedUsage, UsageReport } from "./query/usage-queries.js";
export type { TokenUsageStats, TrendPoint } from "./query/stats.js";
export type { Recommendation, RecommendationKind, RecommendationOptions, RecommendationSeverity } from "./query/recommendations.js";
export type { RangeInput } from "./query/range.js";
export type { Granularity } from "./query/time-buckets.js";

// The store contract (for custom stores) and the two backends.
export type {
  RecordFilter,
  GroupKey,
  AggregateQuery,
  UsageTotals,
  AggregateRow,
  PageRequest,
  AppendResult,
  CostUpdate,
  StoreCapabilities,
  UsageStore,
} from "./stores/types.js";
export { createStore, type StoreSelection } from "./stores/create-store.js";
export { SqliteUsageStore, SqliteWorkerStore, type SqliteUsageStoreOptions } from "./stores/sqlite/index.js";
export { CosmosUsageStore, type CosmosUsageStoreOptions, type CosmosClientLike, type CosmosContainerLike } from "./stores/cosmos/index.js";

export {
  BudgetGuard,
  BudgetGuardHandler,
  createBudgetGuard,
  loadBudgetConfigFile,
  parseBudgetConfig,
  type BudgetGuardOptions,
  type BudgetGuardHandlerOptions,
  type BudgetMonitor,
  type BudgetStatus,
  type BudgetState,
  type BudgetDecision,
  type CheckOptions,
  type ReserveRequest,
  type BudgetLimit,
  type BudgetLimitInput,
  type BudgetMetric,
  type BudgetMode,
  type BudgetPeriod,
  type BudgetScope,
  type BillingCycle,
  type SubscriptionKind,
  type PeriodWindow,
  type PeriodSpec,
  type UsageAmount,
  type EstimateOptions,
  type BudgetAlert,
  type AlertLevel,
  type WebhookOptions,
  type AlertSinkOptions,
  type BudgetConfig,
  type BudgetFileConfig,
} from "./budget/index.js";
export type { TelemetryOptions, TelemetryAttributeOptions } from "./telemetry/index.js";
export { installGracefulShutdown, type GracefulShutdownOptions, type ShutdownOutcome, type ShutdownTarget } from "./lifecycle/index.js";

export { BufferedWriter, type Logger, type RecordSink, type WriterOptions, type WriterStats } from "./writer/index.js";
