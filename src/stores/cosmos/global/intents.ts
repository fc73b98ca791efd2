/**
 * Re-pricing and pruning with exact global rollups. The latest-version change feed
 * replays a re-priced record (its newest version only) and never shows a delete, so
 * these calls keep the global rollups themselves:
 *
 * 1. Take the lease's lock (a conditional write): consumers stop committing.
 * 2. Read the records to change (their current versions and etags).
 * 3. Drain the feed under the lock. Every version read in 2 existed before this drain,
 *    so it is now in the rollups: folded by a consumer, or put there by an earlier
 *    maintenance call (a version marked `g_epoch` = the epoch, which consumers skip).
 *    Records created after the drain began are not touched here: the consumer folds
 *    them, in whatever version it finds.
 * 4. Per chunk of records: one batch with the rollup deltas (minus the old version, plus
 *    the new one for a re-price) and the lease rewritten with the chunk's record changes
 *    as intents. Then the records are rewritten (new version marked `g_epoch`, `rev` + 1,
 *    conditional on the etag read in 2) or deleted.
 * 5. Release the lock (intents cleared).
 *
 * A holder that crashes leaves the lock; once it has not changed for a while (timed on
 * the observer's own clock, never compared with another machine's), the next consumer
 * applies the committed intents (idempotent: a replaced record is recognised by its
 * `rev`, a deleted one by 404) and releases it.
 */
import { randomUUID } from "node:crypto";
import { StoreError } from "../../../errors.js";
import type { UsageRecord } from "../../../record/types.js";
import { mapLimit } from "../concurrency.js";
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext, Doc } from "../context.js";
import { fromUsageDocument } from "../documents.js";
import { sleep, statusOf, withRetry } from "../retry.js";
import { batchTooLarge, sendGlobalBatch } from "./batch.js";
import { addDimRecords, dimOperations } from "./dim-docs.js";
import type { GlobalConsumer } from "./consumer.js";
import { addRecords } from "./fold.js";
import { newLease, type LeaseDoc, type RecordIntent } from "./layout.js";
import { ensureLease, readLease } from "./lease.js";
import { addEntityRecords, entityOperations } from "./leader-docs.js";
import { leaseReplace, rollupOperations } from "./rollup-writes.js";

/** A record change: `next` replaces `old` (re-price), or no `next` deletes it (prune). */
export interface RecordChange {
  old: Doc;
  pk: string | string[];
  next?: Doc;
}

const CHUNK = 40;
const LOCK_WAIT_MS = 120_000;

/**
 * Applies record changes with the global rollups kept exact (see the module comment).
 * `prepare` reads the records under the lock; returns the changes applied.
 */
export async function changeRecords(
  ctx: CosmosContext,
  o: OpenedContainer,
  consumer: GlobalConsumer,
  prepare: () => Promise<RecordChange[]>,
  staleLockMs = 60_000,
): Promise<RecordChange[]> {
  const holder = randomUUID();
  await acquire(ctx, o, holder, staleLockMs);
  let released = false;
  try {
    const changes = dedupe(await prepare());
    if (changes.length > 0) {
      if (!(await consumer.drainNow({ holder }))) throw new StoreError("global rollups: could not drain the change feed under the maintenance lock");
      for (let i = 0; i < changes.length; i += CHUNK) await commitChunk(ctx, o, holder, changes.slice(i, i + CHUNK));
    }
    released = await release(ctx, o, holder);
    return changes;
  } finally {
    if (!released) await release(ctx, o, holder).catch(() => undefined);
  }
}

function dedupe(changes: RecordChange[]): RecordChange[] {
  const byId = new Map<string, RecordChange>();
  for (const c of changes) byId.set(JSON.stringify([c.pk, c.old.id]), c);
  return [...byId.values()];
}

async function commitChunk(ctx: CosmosContext, o: OpenedContainer, holder: string, changes: RecordChange[]): Promise<void> {
  const lease = await mustHold(ctx, o, holder);
  const olds: UsageRecord[] = changes.map((c) => fromUsageDocument(c.old));
  const news: UsageRecord[] = changes.flatMap((c) => (c.next ? [fromUsageDocument(c.next)] : []));
  const deltas = addRecords(addRecords(new Map(), olds, -1), news, 1);
  const entities = addEntityRecords(addEntityRecords(new Map(), olds, -1, lease.epoch, lease.windows), news, 1, lease.epoch, lease.windows);
  const dims = lease.dims ? addDimRecords(addDimRecords(new Map(), olds, -1), news, 1) : undefined;
  const ops = [
    ...(await rollupOperations(ctx, o, lease.epoch, deltas)),
    ...(await entityOperations(ctx, o, entities)),
    ...(dims ? await dimOperations(ctx, o, lease.epoch, dims) : []),
  ];
  if (batchTooLarge(ops)) {
    if (changes.length === 1) throw new StoreError("global rollups: one record's change does not fit a batch");
    const half = Math.ceil(changes.length / 2);
    await commitChunk(ctx, o, holder, changes.slice(0, half));
    await commitChunk(ctx, o, holder, changes.slice(half));
    return;
  }
  const intents: RecordIntent[] = changes.map((c) => ({
    id: c.old.id,
    pk: c.pk,
    etag: String(c.old._etag),
    action: c.next ? "replace" : "delete",
    set: c.next ? changedFields(c.old, c.next, lease.epoch) : undefined,
  }));
  ops.push(leaseReplace(lease, { ...lease, lock: { holder, intents } }));
  if ((await sendGlobalBatch(ctx, o, ops, "a global rollups maintenance batch")) === "conflict") {
    throw new StoreError("global rollups: the maintenance lock was taken over (held too long?); nothing of this chunk was applied");
  }
  await applyIntents(ctx, o, intents);
}

/** What the new version changes, marked as already in this epoch's rollups (consumers skip it). */
function changedFields(old: Doc, next: Doc, epoch: number): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(next)) if (!k.startsWith("_") && JSON.stringify(old[k]) !== JSON.stringify(v)) set[k] = v;
  set.rev = (typeof old.rev === "number" ? old.rev : 0) + 1;
  set.g_epoch = epoch;
  if (Object.keys(set).length > 10) throw new StoreError("a record change sets more than 10 fields (one patch)");
  return set;
}

/** Applies committed intents; each is idempotent. */
export async function applyIntents(ctx: CosmosContext, o: OpenedContainer, intents: RecordIntent[]): Promise<void> {
  await mapLimit(intents, 8, (intent) =>
    withRetry("maintenance record write", ctx.policy, async () => {
      const item = o.container.item(intent.id, intent.pk);
      try {
        const condition = { accessCondition: { type: "IfMatch", condition: intent.etag } };
        if (intent.action === "replace") {
          const ops = Object.entries(intent.set!).map(([k, value]) => ({ op: "set" as const, path: `/${k}`, value }));
          await item.patch(ops, condition);
        }
        else await item.delete(condition);
      } catch (err) {
        const s = statusOf(err);
        if (s === 404) return; // deleted already (this intent, or the record's TTL)
        if (s !== 412) throw err;
        const cur = await ctx.readDoc(o.container, intent.id, intent.pk);
        if (intent.action === "replace" && cur && cur.rev === intent.set!.rev) return; // changed already
        if (intent.action === "delete" && !cur) return;
        throw new StoreError(`record "${intent.id}" changed outside the maintenance lock; run rebuildRollups()`);
      }
    }),
  );
}

export async function acquire(ctx: CosmosContext, o: OpenedContainer, holder: string, staleLockMs: number): Promise<void> {
  const giveUp = Date.now() + LOCK_WAIT_MS;
  let watched: { etag?: string; since: number } | undefined;
  for (;;) {
    const lease = await ensureLease(ctx, o);
    if (!lease.lock) {
      const r = await sendGlobalBatch(ctx, o, [leaseReplace(lease, { ...lease, lock: { holder, intents: [] } })], "the global rollups' lock");
      if (r === "ok") return;
      continue;
    }
    if (!watched || watched.etag !== lease._etag) watched = { etag: lease._etag, since: Date.now() };
    else if (Date.now() - watched.since >= staleLockMs) {
      await finishStaleLock(ctx, o, lease);
      continue;
    }
    if (Date.now() > giveUp) throw new StoreError("global rollups: another re-price, prune or rebuild holds the lock; retry later");
    await sleep(50 + Math.random() * 100);
  }
}

export async function mustHold(ctx: CosmosContext, o: OpenedContainer, holder: string): Promise<LeaseDoc> {
  const lease = await readLease(ctx, o);
  if (lease?.lock?.holder !== holder) throw new StoreError("global rollups: the maintenance lock was taken over (held too long?)");
  return lease;
}

export async function release(ctx: CosmosContext, o: OpenedContainer, holder: string): Promise<boolean> {
  for (let round = 0; round < 5; round++) {
    const lease = await readLease(ctx, o);
    if (lease?.lock?.holder !== holder) return true;
    await applyIntents(ctx, o, lease.lock.intents);
    const { lock, ...rest } = lease;
    void lock;
    if ((await sendGlobalBatch(ctx, o, [leaseReplace(lease, rest as LeaseDoc)], "the global rollups' unlock")) === "ok") return true;
  }
  return false;
}

/** Finishes what a crashed holder committed and releases its lock (conditional: one finisher wins). */
export async function finishStaleLock(ctx: CosmosContext, o: OpenedContainer, lease: LeaseDoc): Promise<void> {
  ctx.cfg.logger?.warn("global rollups: releasing a maintenance lock left by a stopped process", { holder: lease.lock?.holder });
  await applyIntents(ctx, o, lease.lock?.intents ?? []);
  const { lock, ...rest } = lease;
  void lock;
  await sendGlobalBatch(ctx, o, [leaseReplace(lease, rest as LeaseDoc)], "the global rollups' unlock");
}

/**
 * Starts a new epoch: the lease goes back to the beginning of the feed with rollups
 * that are not ready, in one conditional write taken under the lock (a crashed
 * holder's intents are finished first). Returns the new epoch.
 */
export async function resetEpoch(ctx: CosmosContext, o: OpenedContainer, staleLockMs = 60_000): Promise<number> {
  const holder = randomUUID();
  await acquire(ctx, o, holder, staleLockMs);
  try {
    const lease = await mustHold(ctx, o, holder);
    const next = newLease(lease.epoch + 1);
    if ((await sendGlobalBatch(ctx, o, [leaseReplace(lease, next)], "the global rollups' reset")) === "conflict") {
      throw new StoreError("global rollups: the lease changed during the reset; retry rebuildRollups()");
    }
    return next.epoch;
  } finally {
    await release(ctx, o, holder).catch(() => undefined);
  }
}
