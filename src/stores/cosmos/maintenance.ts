/**
 * Maintenance of stored data: re-pricing, pruning and rollup recompute/rebuild.
 * Rewrites are compare-and-swap on the etag, so concurrent writers never lose an update.
 */
import type { Container, OperationInput } from "@azure/cosmos";
import { StoreError, ValidationError } from "../../errors.js";
import { nanosToUsd } from "../../record/mapping.js";
import type { UsageRecord } from "../../record/types.js";
import type { CostUpdate } from "../types.js";
import { chunk, mapLimit } from "./concurrency.js";
import type { OpenedContainer } from "./container-setup.js";
import type { CosmosContext, Doc } from "./context.js";
import { fromUsageDocument, rollupDocId } from "./documents.js";
import { bulkWithRetry } from "./bulk.js";
import { aggregateSourceQuery, hourSourceQuery, pruneCandidatesQuery, rollupQuery } from "./queries.js";
import { findUsageDoc } from "./record-reads.js";
import { statusOf, withRetry } from "./retry.js";
import { rollupGroups, type RollupDocument } from "./rollups.js";
import { validateCostUpdate } from "./validation.js";

const RECOMPUTE_CONCURRENCY = 8;
const MAX_CAS_ROUNDS = 20;

export async function updateCosts(ctx: CosmosContext, updates: CostUpdate[]): Promise<number> {
  updates.forEach(validateCostUpdate);
  const o = await ctx.open();
  const touched: Array<[string, string]> = [];
  const changed = await mapLimit(updates, RECOMPUTE_CONCURRENCY, async (u) => {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const doc = await findUsageDoc(ctx, o, u.id, u.userId);
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
      const ok = await casWrite(ctx, o.container, doc.id, ctx.pk(o, u.userId, String(doc.month ?? "")), next, doc._etag);
      if (ok) {
        touched.push([u.userId, String(doc.timestamp).slice(0, 13)]);
        return 1;
      }
    }
    throw new StoreError(`re-pricing record "${u.id}" kept conflicting with concurrent writers`);
  });
  await recomputeHours(ctx, o, touched);
  return changed.reduce<number>((a, b) => a + b, 0);
}

/** Replace (with etag) or create; false on a lost race (412/409/404), true when written. */
async function casWrite(
  ctx: CosmosContext,
  c: Container,
  id: string,
  pk: string | string[],
  body: Doc,
  etag: string | undefined,
): Promise<boolean> {
  return withRetry("write", ctx.policy, async () => {
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

async function casDelete(ctx: CosmosContext, c: Container, id: string, pk: string | string[], etag: string): Promise<boolean> {
  return withRetry("delete", ctx.policy, async () => {
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

export async function prune(ctx: CosmosContext, before: string, filter: { userId?: string } = {}): Promise<number> {
  if (typeof before !== "string" || !before) throw new ValidationError("before", "must be an ISO timestamp");
  const o = await ctx.open();
  const victims = await ctx.queryAll<{ id: string; user_id: string; month?: string; timestamp: string }>(
    o.container,
    pruneCandidatesQuery(before, filter.userId),
    ctx.scope(o, filter.userId),
  );
  let deleted = 0;
  const ops: OperationInput[] = victims.map((v) => ({
    operationType: "Delete",
    id: v.id,
    partitionKey: ctx.pk(o, v.user_id, v.month ?? String(v.timestamp).slice(0, 7)),
  }));
  for (const part of chunk(ops, ctx.cfg.bulkBatchSize)) {
    const statuses = await bulkWithRetry(ctx, o.container, part, "prune");
    for (const s of statuses) {
      if (s === 204 || s === 200) deleted++;
      else if (s !== 404) throw new StoreError(`Cosmos DB refused to delete a usage record: status ${s}`);
    }
  }
  await recomputeHours(ctx, o, victims.map((v) => [v.user_id, String(v.timestamp).slice(0, 13)]));
  return deleted;
}

export async function recomputeHours(ctx: CosmosContext, o: OpenedContainer, pairs: Array<[string, string]>): Promise<void> {
  const unique = new Map<string, [string, string]>();
  for (const p of pairs) unique.set(JSON.stringify(p), p);
  await mapLimit([...unique.values()], RECOMPUTE_CONCURRENCY, ([u, h]) => recomputeHour(ctx, o, u, h));
}

/** Rewrites one user-hour's rollup from its raw records, compare-and-swap (see rollups.ts). */
async function recomputeHour(ctx: CosmosContext, o: OpenedContainer, userId: string, hour: string): Promise<void> {
  const id = rollupDocId(hour);
  const pk = ctx.pk(o, userId, hour.slice(0, 7));
  for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
    const existing = await ctx.readDoc(o.container, id, pk);
    const docs = await ctx.queryAll(o.container, hourSourceQuery(userId, hour), ctx.scope(o, userId, hour.slice(0, 7)));
    if (await writeRollup(ctx, o, userId, hour, docs.map(fromUsageDocument), existing)) return;
  }
  throw new StoreError(`rollup of user "${userId}" hour ${hour} kept conflicting with concurrent writers`);
}

async function writeRollup(
  ctx: CosmosContext,
  o: OpenedContainer,
  userId: string,
  hour: string,
  records: UsageRecord[],
  existing: Doc | null,
): Promise<boolean> {
  const id = rollupDocId(hour);
  const pk = ctx.pk(o, userId, hour.slice(0, 7));
  const groups = rollupGroups(records);
  if (groups.length === 0) return existing ? casDelete(ctx, o.container, id, pk, existing._etag!) : true;
  const doc: RollupDocument = {
    id,
    type: "rollup",
    user_id: userId,
    hour,
    day: hour.slice(0, 10),
    month: hour.slice(0, 7),
    groups,
  };
  return casWrite(ctx, o.container, id, pk, doc as unknown as Doc, existing?._etag);
}

/**
 * Recomputes every rollup from one scan of the raw records. Each write is
 * conditional on the etag read before the scan, so a concurrent append's newer
 * rollup is never overwritten; such a user-hour is recomputed on its own instead.
 */
export async function rebuildRollups(ctx: CosmosContext): Promise<void> {
  const o = await ctx.open();
  const existing = await ctx.queryAll(o.container, rollupQuery({}));
  const raw = (await ctx.queryAll(o.container, aggregateSourceQuery({}))).map(fromUsageDocument);
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
    if (!(await writeRollup(ctx, o, s.userId, s.hour, s.records, s.doc))) {
      ctx.cfg.logger?.warn("rollup changed during rebuild; recomputing it alone", { userId: s.userId, hour: s.hour });
      await recomputeHour(ctx, o, s.userId, s.hour);
    }
  });
}
