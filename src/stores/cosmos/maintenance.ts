/**
 * Maintenance of stored data: re-pricing, pruning and rollup rebuild. Record changes
 * go through the global rollups' maintenance protocol (global/intents.ts: under the
 * lease's lock, deltas and record changes committed as intents, records rewritten
 * conditional on their etag), which keeps the application-wide rollups exact; the
 * rollups of every touched user-day are then recomputed from the raw records
 * (rollup-sync.ts), so concurrent writers never lose an update. A crash between the
 * record change and the recompute leaves that user-day's rollups stale until the call
 * is repeated or `rebuildRollups()` runs (the global rollups are finished by the next
 * process that finds the lock).
 */
import { ValidationError } from "../../errors.js";
import { nanosToUsd } from "../../record/mapping.js";
import type { UsageRecord } from "../../record/types.js";
import type { CostUpdate } from "../types.js";
import { mapLimit } from "./concurrency.js";
import type { OpenedContainer } from "./container-setup.js";
import type { CosmosContext, Doc } from "./context.js";
import { fromUsageDocument } from "./documents.js";
import type { GlobalConsumer } from "./global/consumer.js";
import { changeRecords, type RecordChange } from "./global/intents.js";
import { readLease } from "./global/lease.js";
import { rebuildGlobalRollups } from "./global/rebuild.js";
import { aggregateSourceQuery, ALL_ROLLUP_TYPES, pruneDocsQuery, rollupQuery } from "./queries.js";
import { findUsageDoc } from "./record-reads.js";
import { recomputeDay, syncDay } from "./rollup-sync.js";
import { validateCostUpdate } from "./validation.js";

const RECOMPUTE_CONCURRENCY = 8;

export async function updateCosts(ctx: CosmosContext, consumer: GlobalConsumer, updates: CostUpdate[]): Promise<number> {
  updates.forEach(validateCostUpdate);
  const o = await ctx.open();
  // The last update of a record wins, as it would applied one after another.
  const last = new Map(updates.map((u) => [JSON.stringify([u.userId, u.id]), u]));
  const changes = await changeRecords(ctx, o, consumer, async () => {
    const found = await mapLimit([...last.values()], RECOMPUTE_CONCURRENCY, async (u): Promise<RecordChange | null> => {
      const doc = await findUsageDoc(ctx, o, u.id, u.userId);
      return doc ? { old: doc, pk: ctx.pk(o, u.userId, String(doc.month ?? "")), next: repriced(doc, u) } : null;
    });
    return found.filter((c): c is RecordChange => c !== null);
  });
  await recomputeDays(ctx, o, changes.map((c) => [String(c.old.user_id), String(c.old.timestamp)]));
  return changes.length;
}

function repriced(doc: Doc, u: CostUpdate): Doc {
  return {
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
}

export async function prune(ctx: CosmosContext, consumer: GlobalConsumer, before: string, filter: { userId?: string } = {}): Promise<number> {
  if (typeof before !== "string" || !before) throw new ValidationError("before", "must be an ISO timestamp");
  const o = await ctx.open();
  // Whole documents: the global rollups subtract what each victim counted for.
  const changes = await changeRecords(ctx, o, consumer, async () => {
    const victims = await ctx.queryAll(o.container, pruneDocsQuery(before, filter.userId), ctx.scope(o, filter.userId));
    return victims.map((v) => ({ old: v, pk: ctx.pk(o, String(v.user_id), String(v.month ?? String(v.timestamp).slice(0, 7))) }));
  });
  await recomputeDays(ctx, o, changes.map((c) => [String(c.old.user_id), String(c.old.timestamp)]));
  return changes.length;
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
export async function rebuildRollups(ctx: CosmosContext, consumer: GlobalConsumer): Promise<void> {
  const o = await ctx.open();
  await rebuildUserRollups(ctx, o);
  // Global rollups exist once any process ran the consumer or a maintenance call (the lease).
  if (ctx.cfg.globalRollups || (await readLease(ctx, o))) await rebuildGlobalRollups(ctx, o, consumer);
}

async function rebuildUserRollups(ctx: CosmosContext, o: OpenedContainer): Promise<void> {
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
