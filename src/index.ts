/** Public API: re-exports only. */
export * from "./errors.js";
export { configFromEnv, DEFAULT_SQLITE_PATH, type EnvConfig, type StoreKind } from "./config.js";

export { ANONYMOUS_USER, type OperationType, type TokenCounts, type UsageRecord, type StoredUsageRecord } from "./record/types.js";
export { toStored, fromStored, nanosToUsd, NANOS_PER_USD } from "./record/mapping.js";
export { buildRecord, MAX_TOKENS_PER_CALL, type UsageInput } from "./record/build-record.js";
export { sanitizeMetadata, METADATA_LIMITS } from "./record/sanitize-metadata.js";

export * from "./pricing/index.js";

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
export { usageFromRawResponse, type RawUsage } from "./manual/raw-response-usage.js";

export {
  UsageQueries,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  type QueryOptions,
  type ListOptions,
  type RecordPage,
  type GroupedUsage,
  type UsageReport,
} from "./query/usage-queries.js";
export type { TokenUsageStats, TrendPoint } from "./query/stats.js";
export * from "./query/recommendations.js";
export type { RangeInput } from "./query/range.js";
export type { Granularity } from "./query/time-buckets.js";

export * from "./stores/types.js";
export { createStore, type StoreSelection } from "./stores/create-store.js";
export { SqliteUsageStore, SqliteWorkerStore, type SqliteUsageStoreOptions } from "./stores/sqlite/index.js";
export { CosmosUsageStore, type CosmosUsageStoreOptions } from "./stores/cosmos/index.js";

export * from "./budget/index.js";
export * from "./telemetry/index.js";
export * from "./lifecycle/index.js";

export { BufferedWriter, type Logger, type RecordSink, type WriterOptions, type WriterStats } from "./writer/index.js";
