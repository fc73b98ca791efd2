/**
 * What every part of the Cosmos store shares: the lazily opened container, the
 * retry policy, partition-key shaping, counted queries and point reads. The store
 * class owns one context and hands it to the modules split by concern (write path,
 * per-user reads, global reads, maintenance, settings).
 */
import type { Container, FeedOptions, SqlQuerySpec } from "@azure/cosmos";
import { ClosedError } from "../../errors.js";
import type { ResolvedCosmosConfig } from "./config.js";
import { loadCosmosSdk, openContainer, type CosmosSdk, type OpenedContainer } from "./container-setup.js";
import { partitionKeyOf } from "./documents.js";
import { statusOf, withRetry, type RetryPolicy } from "./retry.js";

export type Doc = Record<string, unknown> & { id: string; _etag?: string };

/** Counters for tests and benchmarks: how much a call really read and wrote. */
export interface CosmosStoreMetrics {
  queries: number;
  documentsRead: number;
  bulkRequests: number;
  /** Transactional batches sent, and the operations they carried. */
  batchRequests: number;
  batchOperations: number;
  /** Batches that lost a race on a rollup (re-read and re-planned, then patched). */
  rollupRaces: number;
  /** Change-feed pages read by the global consumer, and record versions it folded. */
  changeFeedPages: number;
  recordsFolded: number;
  /** Consumer batches that lost the lease to another consumer (discarded, re-read). */
  leaseRaces: number;
  /** Leaderboard windows derived from an overlapping registered window instead of summed from entity-days. */
  windowsDerived: number;
}

export class CosmosContext {
  readonly metrics: CosmosStoreMetrics = { queries: 0, documentsRead: 0, bulkRequests: 0, batchRequests: 0, batchOperations: 0, rollupRaces: 0, changeFeedPages: 0, recordsFolded: 0, leaseRaces: 0, windowsDerived: 0 };
  readonly policy: RetryPolicy;
  /**
   * Document ids of records an append gave up on after an attempt the service may have
   * applied (answer lost): when a later append finds them stored, this store stored them.
   */
  readonly mayBeStored = new Set<string>();
  private opening?: Promise<OpenedContainer>;
  private loadingSdk?: Promise<CosmosSdk>;
  private closed = false;

  constructor(
    readonly cfg: ResolvedCosmosConfig,
    /** Replaces `import("@azure/cosmos")` (tests of the missing-dependency path). */
    private readonly importSdk?: () => Promise<unknown>,
  ) {
    this.policy = {
      maxAttempts: cfg.maxAttempts,
      baseDelayMs: cfg.baseDelayMs,
      maxDelayMs: cfg.maxDelayMs,
      location: `Cosmos DB container ${cfg.databaseId}/${cfg.containerId}${cfg.endpoint ? ` at ${cfg.endpoint}` : ""}`,
    };
  }

  /** The container, opened (and created if allowed) once; a failed open is retried by the next call. */
  async open(): Promise<OpenedContainer> {
    if (this.closed) throw new ClosedError("CosmosUsageStore");
    this.opening ??= withRetry("open container", this.policy, () => openContainer(this.cfg, () => this.sdk())).catch(
      (err) => {
        this.opening = undefined;
        throw err;
      },
    );
    return this.opening;
  }

  /**
   * The SDK module, for its classes (`ChangeFeedStartFrom`): SDK 4.10+ checks them with
   * instanceof, so they must come from the client's own copy: the `sdk` option when given,
   * else the importer given to the store (tests), else `@azure/cosmos`.
   */
  sdk(): Promise<CosmosSdk> {
    // A failed load (package missing) is tried again by the next call.
    const given = this.cfg.sdk;
    this.loadingSdk ??= loadCosmosSdk(given ? async () => given : this.importSdk).catch((err) => {
      this.loadingSdk = undefined;
      throw err;
    });
    return this.loadingSdk;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  pk(o: OpenedContainer, userId: string, month: string): string | string[] {
    return partitionKeyOf(o.hierarchical, userId, month);
  }

  /** Partition to scope a query to, when the query is known to stay inside one. */
  scope(o: OpenedContainer, userId: string | undefined, month?: string): FeedOptions {
    if (userId === undefined) return {};
    if (!o.hierarchical) return { partitionKey: userId };
    return month === undefined ? {} : { partitionKey: [userId, month] };
  }

  async queryAll<T = Doc>(c: Container, spec: SqlQuerySpec, options: FeedOptions = {}): Promise<T[]> {
    const { resources } = await withRetry("query", this.policy, () => c.items.query<T>(spec, options).fetchAll());
    this.metrics.queries++;
    this.metrics.documentsRead += resources.length;
    return resources;
  }

  /** Point read; null when absent. */
  async readDoc(c: Container, id: string, pk: string | string[]): Promise<Doc | null> {
    return withRetry("read", this.policy, async () => {
      try {
        const { resource } = await c.item(id, pk).read<Doc>();
        if (resource) this.metrics.documentsRead++;
        return resource ?? null;
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const opening = this.opening;
    this.opening = undefined;
    const opened = await opening?.catch(() => undefined);
    opened?.ownedClient?.dispose();
  }
}
