/**
 * Maintenance of stored data: re-pricing, pruning and rollup rebuild. Record
 * rewrites are compare-and-swap on the etag; the rollups of every touched user-day
 * are then recomputed from the raw records (rollup-sync.ts), so concurrent writers
 * never lose an update. A crash between the record change and the recompute leaves
 * that day's rollups stale until the call is repeated or `rebuildRollups()` runs.
 */
import type { Container, OperationInput } from "@azure/cosmos";
import { StoreError, ValidationError } from "../../errors.js";
import { nanosToUsd } from "../../record/mapping.js";
import type { UsageRecord } from "../../record/types.js";
import type { CostUpdate } from "../types.js";
import { chunk, mapLimit } from "./concurrency.js";
import type { OpenedContainer } from "./container-setup.js";
import type { CosmosContext, Doc } from "./context.js";
import { fromUsageDocument } from "./documents.js";
import { bulkWithRetry } from "./bulk.js";
import { aggregateSourceQuery, ALL_ROLLUP_TYPES, pruneCandidatesQuery, rollupQuery } from "./queries.js";
import { findUsageDoc } from "./record-reads.js";
import { statusOf, withRetry } from "./retry.js";
import { recomputeDay, syncDay } from "./rollup-sync.js";
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
        touched.push([u.userId, String(doc.timestamp)]);
        return 1;
      }
    }
    throw new StoreError(`re-pricing record "${u.id}" kept conflicting with concurrent writers`);
  });
  await recomputeDays(ctx, o, touched);
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
  await recomputeDays(ctx, o, victims.map((v) => [v.user_id, String(v.timestamp)]));
  return deleted;
}

/** Recomputes the rollups of every (user, day) touched by records at these timestamps. */
export async function recomputeDays(ctx: CosmosContext, o: OpenedContainer, pairs: Array<[string, string]>): Promise<void> {
  const unique = new Map<string, [string, string]>();
  for (const [u, ts] of pairs) unique.set(JSON.stringify([u, ts.slice(0, 10)]), [u, ts.slice(0, 10)]);
  await mapLimit([...unique.values()], RECOMPUTE_CONCURRENCY, ([u, d]) => recomputeDay(ctx, o, u, d));
}

/**
 * Brings every rollup to the incremental layout from one scan of the raw records:
 * per user-day, one conditional batch (rollup-sync.ts). A user-day a writer touched
 * meanwhile is recomputed on its own. Idempotent: an up-to-date day sends nothing.
 */
export async function rebuildRollups(ctx: CosmosContext): Promise<void> {
  const o = await ctx.open();
  // Rollups are read before the raw records: a rollup written after this read fails its etag check.
  const existing = await ctx.queryAll(o.container, rollupQuery({ types: ALL_ROLLUP_TYPES }));
  const raw = (await ctx.queryAll(o.container, aggregateSourceQuery({}))).map(fromUsageDocument);
  const byDay = new Map<string, { userId: string; day: string; records: UsageRecord[]; docs: Doc[] }>();
  const slot = (userId: string, day: string) => {
    const k = JSON.stringify([userId, day]);
    let s = byDay.get(k);
    if (!s) byDay.set(k, (s = { userId, day, records: [], docs: [] }));
    return s;
  };
  for (const d of existing) slot(String(d.user_id), String(d.day)).docs.push(d);
  for (const r of raw) slot(r.userId, r.timestamp.slice(0, 10)).records.push(r);
  await mapLimit([...byDay.values()], RECOMPUTE_CONCURRENCY, async (s) => {
    if (!(await syncDay(ctx, o, s.userId, s.day, s.records, s.docs))) {
      ctx.cfg.logger?.warn("rollups changed during rebuild; recomputing the day alone", { userId: s.userId, day: s.day });
      await recomputeDay(ctx, o, s.userId, s.day);
    }
  });
}
