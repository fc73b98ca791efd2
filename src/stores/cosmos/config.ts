/**
 * Options of the Cosmos DB store, with the environment fallbacks. Resolving them is
 * pure (no I/O) so a misconfigured store fails at construction with a clear field.
 */
import type { Container, CosmosClient } from "@azure/cosmos";
import { ValidationError } from "../../errors.js";

/**
 * A `CosmosClient` of `@azure/cosmos`, described by the members the store calls, so the
 * published declarations do not need the optional SDK installed (a strict consumer on
 * SQLite type-checks without it). A real `CosmosClient` fits.
 */
export interface CosmosClientLike {
  database(id: string): unknown;
  readonly databases: unknown;
}

/** A `Container` of `@azure/cosmos`, described structurally (see `CosmosClientLike`). */
export interface CosmosContainerLike {
  readonly id: string;
  readonly items: unknown;
  item(id: string, partitionKeyValue?: unknown): unknown;
  read(options?: unknown): Promise<unknown>;
}

export interface CosmosStoreLogger {
  warn(message: string, details?: Record<string, unknown>): void;
}

export interface CosmosUsageStoreOptions {
  /** Account endpoint. @default process.env.COSMOS_ENDPOINT */
  endpoint?: string;
  /** Account key. @default process.env.COSMOS_KEY */
  key?: string;
  /** @default process.env.COSMOS_DATABASE ?? "token_usage_db" */
  databaseId?: string;
  /** @default process.env.COSMOS_CONTAINER ?? "token_usage" */
  containerId?: string;
  /** A ready `CosmosClient` (Entra ID, custom agent, ...); the store never closes a client it did not create. */
  client?: CosmosClientLike;
  /** A ready `Container`: no database or container is created. */
  container?: CosmosContainerLike;
  /**
   * The `@azure/cosmos` module your `client` or `container` was built with
   * (`import * as cosmos from "@azure/cosmos"`), when your application resolves a copy of
   * its own: SDK 4.10+ checks the change feed's start position with `instanceof`, so it
   * must come from the client's copy. @default the copy this package resolves
   */
  sdk?: object;
  /** Create the database and container on first use. @default true */
  createIfMissing?: boolean;
  /** Container default TTL for NEW containers (seconds); documents then expire by themselves. */
  defaultTtlSeconds?: number;
  /** NEW containers are partitioned by `['/user_id', '/month']` instead of `/user_id`. @default false */
  hierarchicalPartitionKey?: boolean;
  /** Provisioned RU/s for a NEW container (omit for serverless or shared throughput). */
  throughput?: number;
  /** Operations per bulk request and per transactional batch (the service accepts at most 100). @default 100 */
  bulkBatchSize?: number;
  /** Attempts for a throttled (429), unavailable (5xx) or dropped request before a StoreError. @default 8 */
  maxAttempts?: number;
  /** First backoff delay in ms; doubled per attempt, with full jitter. @default 100 */
  baseDelayMs?: number;
  /** Cap of one backoff delay in ms (a service's retry-after wins when longer). @default 10000 */
  maxDelayMs?: number;
  logger?: CosmosStoreLogger;
  /**
   * Run the change-feed consumer that keeps the application-wide rollups (global views
   * and leaderboards read them instead of every user's): after each `append()` and in the
   * background. Off: this process does not fold, and its global reads use the per-user
   * rollups (re-pricing and pruning keep the global rollups exact either way). @default true
   */
  globalRollups?: boolean;
  /** Background consumer period in ms (0: only after appends). @default 5000 */
  globalConsumerIntervalMs?: number;
  /**
   * Also fold after every `append()`, not only on `flush()` (the monitor's flush calls the
   * store's) and in the background. Costs about 4x the RU per record of a background
   * drain at small flushes (BENCHMARKS.md) and adds a drain to every write. @default false
   */
  globalDrainAfterAppend?: boolean;
  /**
   * A re-price, prune or rebuild lock on the global rollups left unchanged this long
   * (timed by the observing process) is taken to be a crashed holder's: its committed
   * record changes are finished and the lock released. @default 60000
   */
  globalLockStaleMs?: number;
}

export interface ResolvedCosmosConfig {
  endpoint?: string;
  key?: string;
  databaseId: string;
  containerId: string;
  client?: CosmosClient;
  container?: Container;
  createIfMissing: boolean;
  defaultTtlSeconds?: number;
  hierarchicalPartitionKey: boolean;
  throughput?: number;
  bulkBatchSize: number;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  logger?: CosmosStoreLogger;
  globalRollups: boolean;
  globalConsumerIntervalMs: number;
  sdk: object | undefined;
  globalDrainAfterAppend: boolean;
  globalLockStaleMs: number;
}

export const DEFAULT_DATABASE = "token_usage_db";
export const DEFAULT_CONTAINER = "token_usage";

export function resolveCosmosConfig(
  opts: CosmosUsageStoreOptions = {},
  env: Record<string, string | undefined> = process.env,
): ResolvedCosmosConfig {
  const endpoint = opts.endpoint ?? env.COSMOS_ENDPOINT;
  const key = opts.key ?? env.COSMOS_KEY;
  if (!opts.client && !opts.container) {
    if (!endpoint) {
      throw new ValidationError(
        "endpoint",
        "no Cosmos DB endpoint: pass `endpoint` and `key`, set COSMOS_ENDPOINT and COSMOS_KEY, or pass a ready `client` (Entra ID)",
      );
    }
    if (!key) {
      throw new ValidationError(
        "key",
        "no Cosmos DB key: pass `key`, set COSMOS_KEY, or pass a ready `client` authenticated with Entra ID",
      );
    }
  }
  const bulkBatchSize = opts.bulkBatchSize ?? 100;
  if (!Number.isInteger(bulkBatchSize) || bulkBatchSize < 1 || bulkBatchSize > 100) {
    throw new ValidationError("bulkBatchSize", "must be an integer from 1 to 100 (the service limit per bulk request)");
  }
  const maxAttempts = opts.maxAttempts ?? 8;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new ValidationError("maxAttempts", "must be a positive integer");
  }
  const baseDelayMs = opts.baseDelayMs ?? 100;
  if (!(baseDelayMs >= 0)) throw new ValidationError("baseDelayMs", "must be a non-negative number");
  const maxDelayMs = opts.maxDelayMs ?? 10_000;
  if (!(maxDelayMs >= baseDelayMs)) throw new ValidationError("maxDelayMs", "must be at least baseDelayMs");
  if (opts.defaultTtlSeconds !== undefined && !(Number.isInteger(opts.defaultTtlSeconds) && opts.defaultTtlSeconds > 0)) {
    throw new ValidationError("defaultTtlSeconds", "must be a positive integer number of seconds");
  }
  const globalConsumerIntervalMs = opts.globalConsumerIntervalMs ?? 5000;
  if (!(Number.isFinite(globalConsumerIntervalMs) && globalConsumerIntervalMs >= 0)) {
    throw new ValidationError("globalConsumerIntervalMs", "must be a non-negative number of milliseconds");
  }
  const globalLockStaleMs = opts.globalLockStaleMs ?? 60_000;
  if (!(Number.isFinite(globalLockStaleMs) && globalLockStaleMs > 0)) {
    throw new ValidationError("globalLockStaleMs", "must be a positive number of milliseconds");
  }
  const databaseId = opts.databaseId ?? env.COSMOS_DATABASE ?? DEFAULT_DATABASE;
  const containerId = opts.containerId ?? env.COSMOS_CONTAINER ?? DEFAULT_CONTAINER;
  if (!databaseId) throw new ValidationError("databaseId", "must not be empty");
  if (!containerId) throw new ValidationError("containerId", "must not be empty");
  return {
    endpoint,
    key,
    databaseId,
    containerId,
    // The structural option types are the SDK's own classes at run time.
    client: opts.client as CosmosClient | undefined,
    container: opts.container as Container | undefined,
    sdk: opts.sdk,
    createIfMissing: opts.createIfMissing ?? true,
    defaultTtlSeconds: opts.defaultTtlSeconds,
    hierarchicalPartitionKey: opts.hierarchicalPartitionKey ?? false,
    throughput: opts.throughput,
    bulkBatchSize,
    maxAttempts,
    baseDelayMs,
    maxDelayMs,
    logger: opts.logger,
    globalRollups: opts.globalRollups ?? true,
    globalConsumerIntervalMs,
    globalDrainAfterAppend: opts.globalDrainAfterAppend ?? false,
    globalLockStaleMs,
  };
}
