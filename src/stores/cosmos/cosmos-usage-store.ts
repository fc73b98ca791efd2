/**
 * Azure Cosmos DB backend of the usage store.
 *
 * One container holds usage records (partition `/user_id`, or `/user_id`+`/month`),
 * hourly rollups in each user's partition, and settings in the reserved partition
 * `__settings__`. Writes go through the bulk API with bounded retries; aggregates
 * that rollups can answer read one document per user-hour, the rest read raw
 * records and group in memory (Cosmos has no cross-partition GROUP BY to rely on).
 */
import { randomUUID } from "node:crypto";
import type { Container, FeedOptions, OperationInput, SqlQuerySpec } from "@azure/cosmos";
import { ClosedError, StoreError, ValidationError } from "../../errors.js";
import { nanosToUsd } from "../../record/mapping.js";
import type { UsageRecord } from "../../record/types.js";
import {
  aggregateInMemory,
  type AggregateQuery,
  type AggregateRow,
  type AppendResult,
  type CostUpdate,
  type PageRequest,
  type RecordFilter,
  type StoreCapabilities,
  type UsageStore,
} from "../types.js";
import { chunk, mapLimit } from "./concurrency.js";
import { resolveCosmosConfig, type CosmosUsageStoreOptions, type ResolvedCosmosConfig } from "./config.js";
import { openContainer, type CosmosSdk, type OpenedContainer } from "./container-setup.js";
import {
  docIdFor,
  fromUsageDocument,
  rollupDocId,
  SETTINGS_PARTITION,
  settingDocId,
  toUsageDocument,
} from "./documents.js";
import {
  aggregateSourceQuery,
  byRecordIdQuery,
  hourSourceQuery,
  listQuery,
  pruneCandidatesQuery,
  rollupQuery,
  settingsQuery,
} from "./queries.js";
import { backoffMs, isTransient, messageOf, sleep, statusOf, withRetry, type RetryPolicy } from "./retry.js";
import { aggregateRollups, rollupGroups, rollupsCanAnswer, type RollupDocument } from "./rollups.js";

type Doc = Record<string, unknown> & { id: string; _etag?: string };

/** Counters for tests and benchmarks: how much a call really read and wrote. */
export interface CosmosStoreMetrics {
  queries: number;
  documentsRead: number;
  bulkRequests: number;
}

const RECOMPUTE_CONCURRENCY = 8;
const MAX_CAS_ROUNDS = 20;

export class CosmosUsageStore implements UsageStore {
  readonly kind = "cosmos";
  readonly capabilities: StoreCapabilities;
  readonly metrics: CosmosStoreMetrics = { queries: 0, documentsRead: 0, bulkRequests: 0 };
  private readonly cfg: ResolvedCosmosConfig;
  private readonly policy: RetryPolicy;
  private opening?: Promise<OpenedContainer>;
  private closed = false;

  constructor(
    options: CosmosUsageStoreOptions = {},
    /**
     * Replaces `import("@azure/cosmos")` (tests of the missing-dependency path). Typed
     * loosely so the published declarations do not reference the optional SDK.
     */
    private readonly importSdk?: () => Promise<unknown>,
  ) {
    this.cfg = resolveCosmosConfig(options);
    this.policy = { maxAttempts: this.cfg.maxAttempts, baseDelayMs: this.cfg.baseDelayMs, maxDelayMs: this.cfg.maxDelayMs };
    this.capabilities = { rollups: true, multiProcess: true, ttl: this.cfg.defaultTtlSeconds !== undefined };
  }

  /** The container, opened (and created if allowed) once; a failed open is retried by the next call. */
  private async open(): Promise<OpenedContainer> {
    if (this.closed) throw new ClosedError("CosmosUsageStore");
    this.opening ??= withRetry("open container", this.policy, () => openContainer(this.cfg, this.importSdk)).catch(
      (err) => {
        this.opening = undefined;
        throw err;
      },
    );
    return this.opening;
  }

  private pk(o: OpenedContainer, userId: string, month: string): string | string[] {
    return o.hierarchical ? [userId, month] : userId;
  }

  /** Partition to scope a query to, when the query is known to stay inside one. */
  private scope(o: OpenedContainer, userId: string | undefined, month?: string): FeedOptions {
    if (userId === undefined) return {};
    if (!o.hierarchical) return { partitionKey: userId };
    return month === undefined ? {} : { partitionKey: [userId, month] };
  }

  private async queryAll<T = Doc>(c: Container, spec: SqlQuerySpec, options: FeedOptions = {}): Promise<T[]> {
    const { resources } = await withRetry("query", this.policy, () => c.items.query<T>(spec, options).fetchAll());
    this.metrics.queries++;
    this.metrics.documentsRead += resources.length;
    return resources;
  }

  /** Point read; null when absent. */
  private async readDoc(c: Container, id: string, pk: string | string[]): Promise<Doc | null> {
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

  // ---------------------------------------------------------------- writes

  async append(records: UsageRecord[]): Promise<AppendResult> {
    records.forEach(validateRecord);
    const o = await this.open();
    if (records.length === 0) return { inserted: 0, duplicates: 0 };
    const ops: OperationInput[] = records.map((r) => ({
      operationType: "Create",
      partitionKey: this.pk(o, r.userId, r.timestamp.slice(0, 7)),
      resourceBody: toUsageDocument(r) as never,
    }));
    let inserted = 0;
    let duplicates = 0;
    for (const part of chunk(ops, this.cfg.bulkBatchSize)) {
      const statuses = await this.bulkWithRetry(o.container, part, "append");
      for (const s of statuses) {
        if (s === 201) inserted++;
        else if (s === 409) duplicates++;
        else throw new StoreError(`Cosmos DB refused a usage record with status ${s}`);
      }
    }
    // Replays (409) recompute too: their first attempt may have died before doing it.
    await this.recomputeHours(o, records.map((r) => [r.userId, r.timestamp.slice(0, 13)]));
    return { inserted, duplicates };
  }

  /**
   * Sends bulk operations until each has a final status. Throttled or unavailable
   * operations (429, 5xx, 424 after a failed sibling) and failed requests are sent
   * again with backoff; a Create replayed after a lost response answers 409, which
   * the caller counts as a duplicate, so nothing is ever counted twice.
   *
   * `items.bulk` rather than `executeBulkOperations`: in SDK 4.9 the latter sleeps a
   * fixed second after every partial batch (BulkHelper's partial-batch interval), a
   * floor of ~1 s per flush; and neither retries a throttled bulk request by itself.
   */
  private async bulkWithRetry(c: Container, ops: OperationInput[], what: string): Promise<number[]> {
    const statuses = new Array<number>(ops.length).fill(0);
    let pending = ops.map((_, i) => i);
    for (let attempt = 1; pending.length > 0; attempt++) {
      let lastError: unknown;
      try {
        this.metrics.bulkRequests++;
        const results = await c.items.bulk(pending.map((i) => ops[i]));
        const again: number[] = [];
        results.forEach((res, j) => {
          const s = res.statusCode;
          if (s === 424 || s === 408 || s === 429 || s === 449 || s >= 500) {
            again.push(pending[j]);
          } else {
            statuses[pending[j]] = s;
          }
        });
        pending = again;
        if (pending.length === 0) break;
        lastError = new Error(`${pending.length} operations throttled or unavailable`);
      } catch (err) {
        if (!isTransient(err)) throw new StoreError(`Cosmos DB ${what} failed: ${messageOf(err)}`, { cause: err });
        lastError = err;
      }
      if (attempt >= this.policy.maxAttempts) {
        throw new StoreError(
          `Cosmos DB ${what} still failing after ${attempt} attempts (throttled or unavailable): ${messageOf(lastError)}; nothing was lost, retry later`,
          { cause: lastError },
        );
      }
      await sleep(backoffMs(attempt, this.policy, (lastError as { retryAfterInMs?: number }).retryAfterInMs));
    }
    return statuses;
  }

  async updateCosts(updates: CostUpdate[]): Promise<number> {
    updates.forEach((u, i) => {
      if (typeof u.id !== "string" || !u.id) throw new ValidationError(`updates[${i}].id`, "must be a non-empty string");
      if (typeof u.userId !== "string" || !u.userId) {
        throw new ValidationError(`updates[${i}].userId`, "must be a non-empty string");
      }
      for (const f of ["inputCostNanos", "outputCostNanos", "totalCostNanos"] as const) {
        if (!Number.isSafeInteger(u[f])) throw new ValidationError(`updates[${i}].${f}`, "must be an integer (nano-dollars)");
      }
    });
    const o = await this.open();
    const touched: Array<[string, string]> = [];
    const changed = await mapLimit(updates, RECOMPUTE_CONCURRENCY, async (u) => {
      for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
        const doc = await this.findUsageDoc(o, u.id, u.userId);
        if (!doc) return 0;
        const next = {
          ...doc,
          input_cost_nanos: u.inputCostNanos,
          output_cost_nanos: u.outputCostNanos,
          total_cost_nanos: u.totalCostNanos,
          input_cost: nanosToUsd(u.inputCostNanos),
          output_cost: nanosToUsd(u.outputCostNanos),
          total_cost: nanosToUsd(u.totalCostNanos),
          priced: u.priced,
          price_source: u.priceSource,
        };
        const ok = await this.casWrite(o.container, doc.id, this.pk(o, u.userId, String(doc.month ?? "")), next, doc._etag);
        if (ok) {
          touched.push([u.userId, String(doc.timestamp).slice(0, 13)]);
          return 1;
        }
      }
      throw new StoreError(`re-pricing record "${u.id}" kept conflicting with concurrent writers`);
    });
    await this.recomputeHours(o, touched);
    return changed.reduce<number>((a, b) => a + b, 0);
  }

  /** Replace (with etag) or create; false on a lost race (412/409/404), true when written. */
  private async casWrite(c: Container, id: string, pk: string | string[], body: Doc, etag: string | undefined): Promise<boolean> {
    return withRetry("write", this.policy, async () => {
      try {
        if (etag) await c.item(id, pk).replace(body, { accessCondition: { type: "IfMatch", condition: etag } });
        else await c.items.create(body);
        return true;
      } catch (err) {
        const s = statusOf(err);
        if (s === 412 || s === 409 || s === 404) return false;
        throw err;
      }
    });
  }

  private async casDelete(c: Container, id: string, pk: string | string[], etag: string): Promise<boolean> {
    return withRetry("delete", this.policy, async () => {
      try {
        await c.item(id, pk).delete({ accessCondition: { type: "IfMatch", condition: etag } });
        return true;
      } catch (err) {
        const s = statusOf(err);
        if (s === 412) return false;
        if (s === 404) return true;
        throw err;
      }
    });
  }

  async prune(before: string, filter: { userId?: string } = {}): Promise<number> {
    if (typeof before !== "string" || !before) throw new ValidationError("before", "must be an ISO timestamp");
    const o = await this.open();
    const victims = await this.queryAll<{ id: string; user_id: string; month?: string; timestamp: string }>(
      o.container,
      pruneCandidatesQuery(before, filter.userId),
      this.scope(o, filter.userId),
    );
    let deleted = 0;
    const ops: OperationInput[] = victims.map((v) => ({
      operationType: "Delete",
      id: v.id,
      partitionKey: this.pk(o, v.user_id, v.month ?? String(v.timestamp).slice(0, 7)),
    }));
    for (const part of chunk(ops, this.cfg.bulkBatchSize)) {
      const statuses = await this.bulkWithRetry(o.container, part, "prune");
      for (const s of statuses) {
        if (s === 204 || s === 200) deleted++;
        else if (s !== 404) throw new StoreError(`Cosmos DB refused to delete a usage record: status ${s}`);
      }
    }
    await this.recomputeHours(o, victims.map((v) => [v.user_id, String(v.timestamp).slice(0, 13)]));
    return deleted;
  }

  // ---------------------------------------------------------------- rollups

  private async recomputeHours(o: OpenedContainer, pairs: Array<[string, string]>): Promise<void> {
    const unique = new Map<string, [string, string]>();
    for (const p of pairs) unique.set(JSON.stringify(p), p);
    await mapLimit([...unique.values()], RECOMPUTE_CONCURRENCY, ([u, h]) => this.recomputeHour(o, u, h));
  }

  /** Rewrites one user-hour's rollup from its raw records, compare-and-swap (see rollups.ts). */
  private async recomputeHour(o: OpenedContainer, userId: string, hour: string): Promise<void> {
    const id = rollupDocId(hour);
    const pk = this.pk(o, userId, hour.slice(0, 7));
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const existing = await this.readDoc(o.container, id, pk);
      const docs = await this.queryAll(o.container, hourSourceQuery(userId, hour), this.scope(o, userId, hour.slice(0, 7)));
      if (await this.writeRollup(o, userId, hour, docs.map(fromUsageDocument), existing)) return;
    }
    throw new StoreError(`rollup of user "${userId}" hour ${hour} kept conflicting with concurrent writers`);
  }

  private async writeRollup(
    o: OpenedContainer,
    userId: string,
    hour: string,
    records: UsageRecord[],
    existing: Doc | null,
  ): Promise<boolean> {
    const id = rollupDocId(hour);
    const pk = this.pk(o, userId, hour.slice(0, 7));
    const groups = rollupGroups(records);
    if (groups.length === 0) return existing ? this.casDelete(o.container, id, pk, existing._etag!) : true;
    const doc: RollupDocument = {
      id,
      type: "rollup",
      user_id: userId,
      hour,
      day: hour.slice(0, 10),
      month: hour.slice(0, 7),
      groups,
    };
    return this.casWrite(o.container, id, pk, doc as unknown as Doc, existing?._etag);
  }

  /**
   * Recomputes every rollup from one scan of the raw records. Each write is
   * conditional on the etag read before the scan, so a concurrent append's newer
   * rollup is never overwritten; such a user-hour is recomputed on its own instead.
   */
  async rebuildRollups(): Promise<void> {
    const o = await this.open();
    const existing = await this.queryAll(o.container, rollupQuery({}));
    const raw = (await this.queryAll(o.container, aggregateSourceQuery({}))).map(fromUsageDocument);
    const byHour = new Map<string, { userId: string; hour: string; records: UsageRecord[]; doc: Doc | null }>();
    const slot = (userId: string, hour: string) => {
      const k = JSON.stringify([userId, hour]);
      let s = byHour.get(k);
      if (!s) byHour.set(k, (s = { userId, hour, records: [], doc: null }));
      return s;
    };
    for (const d of existing) slot(String(d.user_id), String(d.hour)).doc = d;
    for (const r of raw) slot(r.userId, r.timestamp.slice(0, 13)).records.push(r);
    await mapLimit([...byHour.values()], RECOMPUTE_CONCURRENCY, async (s) => {
      if (!(await this.writeRollup(o, s.userId, s.hour, s.records, s.doc))) {
        this.cfg.logger?.warn("rollup changed during rebuild; recomputing it alone", { userId: s.userId, hour: s.hour });
        await this.recomputeHour(o, s.userId, s.hour);
      }
    });
  }

  // ---------------------------------------------------------------- reads

  async get(id: string, userId?: string): Promise<UsageRecord | null> {
    if (typeof id !== "string" || !id) throw new ValidationError("id", "must be a non-empty string");
    const o = await this.open();
    const doc = await this.findUsageDoc(o, id, userId);
    return doc ? fromUsageDocument(doc) : null;
  }

  private async findUsageDoc(o: OpenedContainer, id: string, userId?: string): Promise<Doc | null> {
    const docId = docIdFor(id);
    if (userId !== undefined && !o.hierarchical) {
      const doc = await this.readDoc(o.container, docId, userId);
      return doc && (doc.type === undefined || doc.type === "usage") ? doc : null;
    }
    const docs = await this.queryAll(o.container, byRecordIdQuery(docId, userId), this.scope(o, userId));
    return docs[0] ?? null;
  }

  /**
   * Keyset paging newest first by (timestamp desc, id desc). Ordering is by timestamp
   * only on the server (document ids may be hashes of record ids, so the server
   * cannot order by record id); ties at a page edge are all fetched and ordered
   * here. A page costs at most three queries; a timestamp shared by very many
   * records is read whole.
   */
  async list(filter: RecordFilter, page: PageRequest): Promise<UsageRecord[]> {
    validateFilter(filter);
    if (!Number.isInteger(page?.limit) || page.limit < 1) throw new ValidationError("limit", "must be a positive integer");
    if (page.after && (typeof page.after.timestamp !== "string" || typeof page.after.id !== "string")) {
      throw new ValidationError("after", "must be { timestamp, id } from the last record of the previous page");
    }
    const o = await this.open();
    const scope = this.scope(o, filter.userId);
    const out: UsageRecord[] = [];
    if (page.after) {
      const after = page.after;
      const ties = (await this.queryAll(o.container, listQuery(filter, { at: after.timestamp }), scope))
        .map(fromUsageDocument)
        .filter((r) => r.id < after.id);
      out.push(...ties.sort(newestFirst).slice(0, page.limit));
    }
    const need = page.limit - out.length;
    if (need > 0) {
      let rows = (await this.queryAll(o.container, listQuery(filter, { top: need, before: page.after?.timestamp }), scope)).map(
        fromUsageDocument,
      );
      if (rows.length === need) {
        const edge = rows[rows.length - 1].timestamp;
        const ties = (await this.queryAll(o.container, listQuery(filter, { at: edge }), scope)).map(fromUsageDocument);
        rows = rows.filter((r) => r.timestamp !== edge).concat(ties);
      }
      out.push(...rows.sort(newestFirst).slice(0, need));
    }
    return out;
  }

  async aggregate(query: AggregateQuery): Promise<AggregateRow[]> {
    validateFilter(query?.filter ?? {});
    if (!Array.isArray(query?.groupBy)) throw new ValidationError("groupBy", "must be an array of group keys");
    query.groupBy.forEach((k, i) => {
      if (!VALID_GROUP.test(String(k))) throw new ValidationError(`groupBy[${i}]`, `unknown group key "${String(k)}"`);
    });
    const o = await this.open();
    const f = query.filter;
    if (rollupsCanAnswer(query)) {
      const docs = await this.queryAll<RollupDocument>(
        o.container,
        rollupQuery({ userId: f.userId, startHour: f.start?.slice(0, 13), endHour: f.end?.slice(0, 13) }),
        this.scope(o, f.userId),
      );
      return aggregateRollups(docs, query);
    }
    const docs = await this.queryAll(o.container, aggregateSourceQuery(f), this.scope(o, f.userId));
    return aggregateInMemory(docs.map(fromUsageDocument), query);
  }

  // ---------------------------------------------------------------- settings

  private settingsPk(o: OpenedContainer): string | string[] {
    return this.pk(o, SETTINGS_PARTITION, "-");
  }

  async getSetting<T = unknown>(namespace: string, key: string): Promise<T | null> {
    validateSettingKey(namespace, key);
    const o = await this.open();
    const doc = await this.readDoc(o.container, settingDocId("setting", namespace, key), this.settingsPk(o));
    return doc ? (doc.value as T) : null;
  }

  async putSetting(namespace: string, key: string, value: unknown): Promise<void> {
    validateSettingKey(namespace, key);
    if (value === undefined) throw new ValidationError("value", "must be JSON-serializable (not undefined)");
    const o = await this.open();
    const doc = {
      id: settingDocId("setting", namespace, key),
      type: "setting",
      user_id: SETTINGS_PARTITION,
      month: "-",
      namespace,
      key,
      value,
      // Settings outlive a container TTL meant for raw records.
      ttl: -1,
    };
    await withRetry("write setting", this.policy, () => o.container.items.upsert(doc));
  }

  async deleteSetting(namespace: string, key: string): Promise<boolean> {
    validateSettingKey(namespace, key);
    const o = await this.open();
    return withRetry("delete setting", this.policy, async () => {
      try {
        await o.container.item(settingDocId("setting", namespace, key), this.settingsPk(o)).delete();
        return true;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw err;
      }
    });
  }

  async listSettings<T = unknown>(namespace: string): Promise<Array<{ key: string; value: T }>> {
    if (typeof namespace !== "string" || !namespace) throw new ValidationError("namespace", "must be a non-empty string");
    const o = await this.open();
    const docs = await this.queryAll(o.container, settingsQuery(SETTINGS_PARTITION, namespace), {
      partitionKey: this.settingsPk(o),
    });
    return docs
      .map((d) => ({ key: String(d.key), value: d.value as T }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Create-once. The claim carries a token of this call so that a retry after a
   * lost response (409 on our own document) still answers true, exactly once.
   */
  async claimOnce(namespace: string, key: string): Promise<boolean> {
    validateSettingKey(namespace, key);
    const o = await this.open();
    const id = settingDocId("claim", namespace, key);
    const claimant = randomUUID();
    const doc = { id, type: "claim", user_id: SETTINGS_PARTITION, month: "-", namespace, key, claimant, ttl: -1 };
    const created = await withRetry("claim", this.policy, async () => {
      try {
        await o.container.items.create(doc);
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false;
        throw err;
      }
    });
    if (created) return true;
    const existing = await this.readDoc(o.container, id, this.settingsPk(o));
    return existing?.claimant === claimant;
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

const VALID_GROUP = /^(user|thread|provider|model|agent|operation|hour|day|dimension:.+)$/;

function newestFirst(a: UsageRecord, b: UsageRecord): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function validateRecord(r: UsageRecord, i: number): void {
  if (!r || typeof r !== "object") throw new ValidationError(`records[${i}]`, "must be a usage record");
  if (typeof r.id !== "string" || !r.id) throw new ValidationError(`records[${i}].id`, "must be a non-empty string");
  if (typeof r.userId !== "string" || !r.userId) {
    throw new ValidationError(`records[${i}].userId`, "must be a non-empty string");
  }
  if (typeof r.timestamp !== "string" || Number.isNaN(Date.parse(r.timestamp)) || r.timestamp.length < 20) {
    throw new ValidationError(`records[${i}].timestamp`, "must be an ISO 8601 UTC timestamp");
  }
}

function validateFilter(f: RecordFilter): void {
  if (!f || typeof f !== "object") throw new ValidationError("filter", "must be an object");
  for (const k of ["userId", "threadId", "provider", "model", "agentName", "start", "end"] as const) {
    if (f[k] !== undefined && typeof f[k] !== "string") throw new ValidationError(k, "must be a string");
  }
}

function validateSettingKey(namespace: string, key: string): void {
  if (typeof namespace !== "string" || !namespace) throw new ValidationError("namespace", "must be a non-empty string");
  if (typeof key !== "string" || !key) throw new ValidationError("key", "must be a non-empty string");
}

