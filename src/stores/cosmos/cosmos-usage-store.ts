/**
 * Azure Cosmos DB backend of the usage store.
 *
 * One container holds usage records (partition `/user_id`, or `/user_id`+`/month`),
 * hourly rollups in each user's partition, and settings in the reserved partition
 * `__settings__`. This class only routes: each concern lives in its own module
 * (write-path, record-reads, user-queries, global-queries, maintenance, settings),
 * all sharing one CosmosContext (the lazily opened container, retries, counters).
 */
import type { UsageRecord } from "../../record/types.js";
import type {
  AggregateQuery,
  AggregateRow,
  AppendResult,
  BudgetCounterState,
  BudgetCounterUpdate,
  CostUpdate,
  DaySpan,
  LeaderEntity,
  LeaderKey,
  SpanLeader,
  PageRequest,
  RecordFilter,
  StoreCapabilities,
  UsageStore,
} from "../types.js";
import { readCosmosCounters, updateCosmosCounters, type CounterTarget } from "./budget-counters.js";
import { resolveCosmosConfig, type CosmosUsageStoreOptions } from "./config.js";
import { CosmosContext, type CosmosStoreMetrics } from "./context.js";
import { aggregateGlobal } from "./global-queries.js";
import { GlobalConsumer } from "./global/consumer.js";
import { cosmosLeaders, cosmosLeaderTotals } from "./global/leaders.js";
import * as maintenance from "./maintenance.js";
import { getRecord, listRecords } from "./record-reads.js";
import * as settings from "./settings.js";
import { aggregateUser } from "./user-queries.js";
import { validateAggregateQuery } from "./validation.js";
import { appendRecords } from "./write-path.js";

export type { CosmosStoreMetrics } from "./context.js";

export class CosmosUsageStore implements UsageStore {
  readonly kind = "cosmos";
  readonly capabilities: StoreCapabilities;
  private readonly ctx: CosmosContext;
  private readonly consumer: GlobalConsumer;
  /** The leaderboard fast path (global/leaders.ts), present while the global rollups are on. */
  readonly leaders?: (entity: LeaderEntity, spans: DaySpan[], offset: number, limit: number) => Promise<SpanLeader[]>;
  readonly leaderTotals?: (entity: LeaderEntity, keys: LeaderKey[], range: { start: string; end: string }) => Promise<AggregateRow[]>;

  constructor(
    options: CosmosUsageStoreOptions = {},
    /**
     * Replaces `import("@azure/cosmos")` (tests of the missing-dependency path). Typed
     * loosely so the published declarations do not reference the optional SDK.
     */
    importSdk?: () => Promise<unknown>,
  ) {
    const cfg = resolveCosmosConfig(options);
    this.ctx = new CosmosContext(cfg, importSdk);
    this.consumer = new GlobalConsumer(this.ctx);
    if (cfg.globalRollups) {
      // Before the consumer has built its documents, both group the range (what the core does without them).
      const fallback = async (entity: LeaderEntity, range: { start: string; end: string }) =>
        (await this.aggregate({ filter: range, groupBy: entity === "user" ? ["user"] : ["thread", "user"] })).filter(
          (r) => entity === "user" || r.key.thread !== null,
        );
      this.leaders = (entity, spans, offset, limit) => {
        this.startConsumer();
        return cosmosLeaders(this.ctx, this.consumer, fallback, entity, spans, offset, limit);
      };
      this.leaderTotals = (entity, keys, range) => cosmosLeaderTotals(this.ctx, fallback, entity, keys, range);
    }
    this.capabilities = { rollups: true, multiProcess: true, ttl: cfg.defaultTtlSeconds !== undefined };
  }

  /** Counters for tests and benchmarks: how much a call really read and wrote. */
  get metrics(): CosmosStoreMetrics {
    return this.ctx.metrics;
  }

  async append(records: UsageRecord[]): Promise<AppendResult> {
    const result = await appendRecords(this.ctx, records);
    this.startConsumer();
    if (result.inserted > 0 && this.ctx.cfg.globalDrainAfterAppend) await this.flush();
    return result;
  }

  /**
   * Folds what the change feed holds into the global rollups (this process's writes
   * included), so once the monitor's `flush()` resolves, every global view holds what it
   * flushed. A failure is logged, not thrown: the records are stored, and the next drain
   * (here or in any replica) folds them.
   */
  async flush(): Promise<void> {
    if (!this.ctx.cfg.globalRollups) return;
    this.startConsumer();
    try {
      // Bounded: on a large container the first build is left to the background and rebuildRollups().
      // A re-price or prune holding the lock folds what is there itself; do not hold a flush up for long.
      await this.consumer.drain({ maxSteps: 200, lockWaitMs: 10_000 });
    } catch (err) {
      this.ctx.cfg.logger?.warn("global rollups: folding the change feed failed; the next drain retries", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /**
   * The background consumer starts with the first write or read (constructing a store
   * does no I/O), so a process that only reads (a dashboard replica) folds what the
   * writers' processes stored.
   */
  private startConsumer(): void {
    if (this.ctx.cfg.globalRollups) this.consumer.start(this.ctx.cfg.globalConsumerIntervalMs);
  }

  /** Folds the change feed into the global rollups now; true once at its end. */
  drainGlobalRollups(): Promise<boolean> {
    return this.consumer.drain();
  }

  updateCosts(updates: CostUpdate[]): Promise<number> {
    return maintenance.updateCosts(this.ctx, this.consumer, updates);
  }

  prune(before: string, filter: { userId?: string } = {}): Promise<number> {
    return maintenance.prune(this.ctx, this.consumer, before, filter);
  }

  rebuildRollups(): Promise<void> {
    return maintenance.rebuildRollups(this.ctx, this.consumer);
  }

  get(id: string, userId?: string): Promise<UsageRecord | null> {
    return getRecord(this.ctx, id, userId);
  }

  list(filter: RecordFilter, page: PageRequest): Promise<UsageRecord[]> {
    return listRecords(this.ctx, filter, page);
  }

  async aggregate(query: AggregateQuery): Promise<AggregateRow[]> {
    validateAggregateQuery(query);
    this.startConsumer();
    return query.filter.userId === undefined ? aggregateGlobal(this.ctx, query) : aggregateUser(this.ctx, query);
  }

  getSetting<T = unknown>(namespace: string, key: string): Promise<T | null> {
    return settings.getSetting<T>(this.ctx, namespace, key);
  }

  putSetting(namespace: string, key: string, value: unknown): Promise<void> {
    return settings.putSetting(this.ctx, namespace, key, value);
  }

  deleteSetting(namespace: string, key: string): Promise<boolean> {
    return settings.deleteSetting(this.ctx, namespace, key);
  }

  listSettings<T = unknown>(namespace: string): Promise<Array<{ key: string; value: T }>> {
    return settings.listSettings<T>(this.ctx, namespace);
  }

  claimOnce(namespace: string, key: string): Promise<boolean> {
    return settings.claimOnce(this.ctx, namespace, key);
  }

  // Budget counters live in their own module (budget-counters.ts); the store only opens the container.
  private async counterTarget(): Promise<CounterTarget> {
    const o = await this.ctx.open();
    return { container: o.container, pk: (partition) => this.ctx.pk(o, partition, "-"), policy: this.ctx.policy };
  }

  async updateBudgetCounters(updates: BudgetCounterUpdate[]): Promise<BudgetCounterState[]> {
    return updates.length === 0 ? [] : updateCosmosCounters(await this.counterTarget(), updates);
  }

  async readBudgetCounters(keys: Array<{ key: string; partition: string }>, now: number): Promise<Array<BudgetCounterState | null>> {
    return keys.length === 0 ? [] : readCosmosCounters(await this.counterTarget(), keys, now);
  }

  async close(): Promise<void> {
    await this.consumer.stop();
    return this.ctx.close();
  }
}
