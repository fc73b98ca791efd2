/**
 * Recomputing rollups from raw records, one user-day at a time: the day document,
 * its hour documents and any legacy (`~r`) documents of that day are brought to
 * what the raw records say in one transactional batch (at most 1 + 24 + 24
 * operations), each write conditional on the etag read, so a writer that patched a
 * rollup meanwhile makes the batch fail whole and the day is read again. Used by
 * re-pricing, pruning and `rebuildRollups()`; the write path never recomputes.
 */
import type { OperationInput } from "@azure/cosmos";
import { StoreError } from "../../errors.js";
import type { UsageRecord } from "../../record/types.js";
import type { OpenedContainer } from "./container-setup.js";
import type { CosmosContext, Doc } from "./context.js";
import { fromUsageDocument } from "./documents.js";
import { ALL_ROLLUP_TYPES, periodSourceQuery, rollupQuery } from "./queries.js";
import { sendConditionalBatch } from "./conditional-batch.js";
import {
  COUNTERS,
  groupDeltas,
  LEGACY_TYPE,
  newRollupDoc,
  periodOf,
  rollupId,
  type GroupState,
  type RollupDoc2,
} from "./rollup-docs.js";

const MAX_ROUNDS = 20;

/** Recomputes the rollups of one user-day from its raw records, until no writer interferes. */
export async function recomputeDay(ctx: CosmosContext, o: OpenedContainer, userId: string, day: string): Promise<void> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const scope = ctx.scope(o, userId, day.slice(0, 7));
    // Rollups strictly before raw records: a batch committed in between changes an etag
    // read here, so the rewrite below fails instead of dropping that batch's records.
    const existing = await ctx.queryAll(o.container, rollupQuery({ userId, days: [day], types: ALL_ROLLUP_TYPES }), scope);
    const rawDocs = await ctx.queryAll(o.container, periodSourceQuery(userId, day), scope);
    if (await syncDay(ctx, o, userId, day, rawDocs.map(fromUsageDocument), existing)) return;
  }
  throw new StoreError(`rollups of user "${userId}" day ${day} kept conflicting with concurrent writers`);
}

/**
 * Writes the rollups of one user-day from `raw`, given the rollup documents read
 * before `raw` was. False when a concurrent writer changed one of them meanwhile.
 */
export async function syncDay(
  ctx: CosmosContext,
  o: OpenedContainer,
  userId: string,
  day: string,
  raw: UsageRecord[],
  existing: Doc[],
): Promise<boolean> {
  const byId = new Map(existing.map((d) => [d.id, d]));
  const want = new Map<string, RollupDoc2>();
  if (raw.length > 0) want.set(rollupId("day", day), newRollupDoc("day", userId, day, groupDeltas(raw)));
  const byHour = new Map<string, UsageRecord[]>();
  for (const r of raw) {
    const h = periodOf("hour", r.timestamp);
    byHour.get(h)?.push(r) ?? byHour.set(h, [r]);
  }
  for (const [h, rs] of byHour) want.set(rollupId("hour", h), newRollupDoc("hour", userId, h, groupDeltas(rs)));

  const ops: OperationInput[] = [];
  for (const [id, doc] of want) {
    const cur = byId.get(id);
    if (!cur) ops.push({ operationType: "Create", resourceBody: doc as never });
    else if (!sameGroups(cur as unknown as RollupDoc2, doc)) {
      ops.push({ operationType: "Replace", id, resourceBody: doc as never, ifMatch: cur._etag });
    }
  }
  for (const d of existing) {
    // Legacy documents are always folded in; new-layout ones go when their records are gone.
    if (d.type === LEGACY_TYPE || !want.has(d.id)) {
      // The wire format takes ifMatch on Delete too; SDK 4.9's type leaves it out.
      ops.push({ operationType: "Delete", id: d.id, ifMatch: d._etag } as OperationInput);
    }
  }
  if (ops.length === 0) return true;
  const pk = ctx.pk(o, userId, day.slice(0, 7));
  return (await sendConditionalBatch(ctx, o, ops, pk, "a rollup rewrite")) === "ok";
}

function sameGroups(a: RollupDoc2, b: RollupDoc2): boolean {
  if (a.type !== b.type || !a.g) return false;
  const ka = Object.keys(a.g).filter((k) => a.g[k].requests !== 0);
  const kb = Object.keys(b.g);
  if (ka.length !== kb.length) return false;
  return kb.every((k) => a.g[k] !== undefined && sameGroup(a.g[k], b.g[k]));
}

function sameGroup(a: GroupState, b: GroupState): boolean {
  return COUNTERS.every((c) => a[c] === b[c]) && a.first_seen === b.first_seen && a.last_seen === b.last_seen;
}
