/**
 * One transactional batch per user partition per flush: the records' Creates and
 * the increments of that user's hour and day rollups (rollup-docs.ts) commit or
 * fail together, so a stored record is always counted exactly once.
 *
 * Each round reads the touched rollup documents (one point read per hour and per
 * day touched: the cost does not depend on how much the hour already holds), plans
 * the batch and sends it. A failed batch changed nothing; what failed decides the
 * next round:
 * - a record Create answers 409: the record is already stored with its share of
 *   the rollups (a replay); it and every other stored record of the batch (found
 *   with one id query) are dropped from the batch and counted as duplicates;
 * - a rollup Create 409, a Patch 412 (its filter predicate) or 404/400: another
 *   replica, a rebuild or a prune changed the rollup since the read; re-read, re-plan;
 * - 429/449/408/5xx for an operation, or the whole batch refused (SDK 4.9 rethrows
 *   that as a plain `Error("Batch request error: ...")` without a status): back off
 *   and retry, bounded by the retry policy;
 * - 413 or a request too large: the records are split in two batches.
 */
import type { Container, OperationInput, OperationResponse, PartitionKey } from "@azure/cosmos";
import { StoreError } from "../../errors.js";
import type { UsageRecord } from "../../record/types.js";
import type { OpenedContainer } from "./container-setup.js";
import type { CosmosContext } from "./context.js";
import { docIdFor, toUsageDocument } from "./documents.js";
import { storedIdsQuery } from "./queries.js";
import { backoffMs, batchFailure, isTransient, messageOf, sleep, unusableError } from "./retry.js";
import {
  groupDeltas,
  groupPatch,
  mergeGroups,
  newRollupDoc,
  periodOf,
  rollupId,
  type RollupDoc2,
  type RollupLevel,
} from "./rollup-docs.js";

/** Service limit: operations per transactional batch. */
export const MAX_BATCH_OPERATIONS = 100;
/** Below the service's 2 MB request limit, with room for the rollup operations. */
const MAX_BATCH_BYTES = 1_500_000;
const MAX_CONFLICT_ROUNDS = 30;
const RETRY_STATUS = new Set([408, 429, 449, 500, 502, 503, 504]);

export interface PartitionWrite {
  inserted: number;
  duplicates: number;
}

class TooLarge extends Error {}

/** Writes the records of one partition (one user, or one user-month when hierarchical). */
export async function writePartition(
  ctx: CosmosContext,
  o: OpenedContainer,
  pk: PartitionKey,
  records: UsageRecord[],
): Promise<PartitionWrite> {
  const out: PartitionWrite = { inserted: 0, duplicates: 0 };
  const seen = new Set<string>();
  const unique: UsageRecord[] = [];
  for (const r of records) {
    if (seen.has(r.id)) out.duplicates++;
    else {
      seen.add(r.id);
      unique.push(r);
    }
  }
  unique.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
  for (const part of planChunks(unique, ctx.cfg.bulkBatchSize)) await writeChunk(ctx, o, pk, part, out);
  return out;
}

/**
 * Greedy chunks within the operation limit: each record costs one Create, each new
 * (hour, group) at most one hour and one day operation.
 */
function planChunks(records: UsageRecord[], maxOps: number): UsageRecord[][] {
  const chunks: UsageRecord[][] = [];
  let cur: UsageRecord[] = [];
  let pairs = new Set<string>();
  let bytes = 0;
  for (const r of records) {
    const doc = toUsageDocument(r);
    const size = JSON.stringify(doc).length;
    const pair = `${periodOf("hour", r.timestamp)}|${JSON.stringify([r.provider, r.model, r.agentName, r.operationType, r.error, r.priced, r.estimated, r.cached])}`;
    const nextPairs = pairs.has(pair) ? pairs.size : pairs.size + 1;
    if (cur.length > 0 && (cur.length + 1 + 2 * nextPairs > maxOps || bytes + size > MAX_BATCH_BYTES)) {
      chunks.push(cur);
      cur = [];
      pairs = new Set();
      bytes = 0;
    }
    cur.push(r);
    pairs.add(pair);
    bytes += size;
  }
  if (cur.length > 0) chunks.push(cur);
  return chunks;
}

async function writeChunk(
  ctx: CosmosContext,
  o: OpenedContainer,
  pk: PartitionKey,
  records: UsageRecord[],
  out: PartitionWrite,
): Promise<void> {
  let pending = records;
  let attempt = 0;
  let conflicts = 0;
  // An attempt failed in a way the service may have applied (its answer lost): records it
  // finds stored afterwards were stored by this call, not before it.
  let mayHaveApplied = false;
  while (pending.length > 0) {
    let outcome: Outcome;
    try {
      // After a lost race, increments (which commute) replace whole-document rewrites.
      outcome = await sendOnce(ctx, o, pk, pending, conflicts > 0);
    } catch (err) {
      if (mayHaveApplied) rememberMaybeStored(ctx, pending);
      if (err instanceof TooLarge) {
        if (pending.length === 1) throw new StoreError("a usage record is too large for Cosmos DB (over the 2 MB request limit)");
        const half = Math.ceil(pending.length / 2);
        await writeChunk(ctx, o, pk, pending.slice(0, half), out);
        await writeChunk(ctx, o, pk, pending.slice(half), out);
        return;
      }
      throw err;
    }
    if (outcome.kind === "ok") {
      out.inserted += pending.length;
      return;
    }
    if (outcome.kind === "duplicate") {
      // A replay usually resends a whole flush: find every stored record of the batch
      // with one query rather than one aborted batch per record.
      const stored = await storedIds(ctx, o, pk, pending);
      stored.add(docIdFor(outcome.record.id));
      const left: UsageRecord[] = [];
      for (const r of pending) {
        const docId = docIdFor(r.id);
        if (!stored.has(docId)) left.push(r);
        // Stored by this append, or by an earlier one of this store whose answer was lost:
        // counted as inserted, so that what counts new records (budgets, metrics) sees it once.
        else if (ctx.mayBeStored.delete(docId) || mayHaveApplied) out.inserted++;
        else out.duplicates++;
      }
      pending = left;
      continue;
    }
    if (outcome.kind === "conflict") {
      ctx.metrics.rollupRaces++;
      if (++conflicts > MAX_CONFLICT_ROUNDS) {
        throw new StoreError(`rollups of user "${records[0].userId}" kept conflicting with concurrent writers; nothing was lost, retry later`);
      }
      continue;
    }
    mayHaveApplied ||= outcome.mayHaveApplied;
    attempt++;
    if (attempt >= ctx.policy.maxAttempts) {
      if (mayHaveApplied) rememberMaybeStored(ctx, pending);
      throw new StoreError(
        `Cosmos DB batch write still failing after ${attempt} attempts (throttled or unavailable): ${messageOf(outcome.error)}; nothing was lost, retry later`,
        { cause: outcome.error },
      );
    }
    await sleep(backoffMs(attempt, ctx.policy, outcome.retryAfterMs));
  }
}

/** Bounded: past it the oldest are forgotten (their records would then count as duplicates). */
const MAX_MAYBE_STORED = 100_000;

function rememberMaybeStored(ctx: CosmosContext, records: readonly UsageRecord[]): void {
  for (const r of records) ctx.mayBeStored.add(docIdFor(r.id));
  for (const id of ctx.mayBeStored) {
    if (ctx.mayBeStored.size <= MAX_MAYBE_STORED) break;
    ctx.mayBeStored.delete(id);
  }
}

type Outcome =
  | { kind: "ok" }
  | { kind: "duplicate"; record: UsageRecord }
  | { kind: "conflict" }
  /** `mayHaveApplied`: the batch failed as a whole without a refusal (a lost answer), not by an operation's status. */
  | { kind: "retry"; error: unknown; retryAfterMs?: number; mayHaveApplied: boolean };

type Planned = { op: OperationInput; record?: UsageRecord };

async function sendOnce(
  ctx: CosmosContext,
  o: OpenedContainer,
  pk: PartitionKey,
  records: UsageRecord[],
  contended: boolean,
): Promise<Outcome> {
  const planned: Planned[] = records.map((r) => ({
    op: { operationType: "Create", resourceBody: toUsageDocument(r) as never },
    record: r,
  }));
  // Every touched rollup (usually one hour and one day) is read at once, by id.
  const targets: Array<{ level: RollupLevel; period: string; records: UsageRecord[] }> = [];
  for (const level of ["hour", "day"] as RollupLevel[]) {
    const byPeriod = new Map<string, UsageRecord[]>();
    for (const r of records) {
      const p = periodOf(level, r.timestamp);
      byPeriod.get(p)?.push(r) ?? byPeriod.set(p, [r]);
    }
    for (const [period, rs] of byPeriod) targets.push({ level, period, records: rs });
  }
  const reads = await Promise.all(targets.map((t) => readRollup(ctx, o.container, rollupId(t.level, t.period), pk)));
  targets.forEach((t, i) => planned.push(...rollupOps(t.level, records[0].userId, t.period, t.records, reads[i], contended)));
  let results: OperationResponse[];
  try {
    ctx.metrics.batchRequests++;
    ctx.metrics.batchOperations += planned.length;
    const res = await o.container.items.batch(
      planned.map((p) => p.op),
      pk,
    );
    results = res.result ?? [];
  } catch (err) {
    const { status: s, retryAfterMs } = batchFailure(err);
    const msg = messageOf(err);
    if (s === 413 || /too large|RequestEntityTooLarge|\b413\b/i.test(msg)) throw new TooLarge(msg);
    if (s !== undefined) {
      // A throttled batch (429) was not executed; an answer of 408 or 5xx may follow one that was.
      if (RETRY_STATUS.has(s)) return { kind: "retry", error: err, retryAfterMs, mayHaveApplied: s !== 429 };
      throw unusableError(err, "batch write", ctx.policy.location) ?? new StoreError(`Cosmos DB batch write failed with status ${s}: ${msg}`, { cause: err });
    }
    // SDK 4.9 rewraps a batch the service refused whole (429, 503, ...) as a plain
    // Error with neither status nor cause: nothing was applied, so it is safe to send again.
    // A reset connection or a timeout may follow a batch the service applied.
    if (isTransient(err) || /^Batch request error/.test(msg)) return { kind: "retry", error: err, retryAfterMs, mayHaveApplied: true };
    throw new StoreError(`Cosmos DB batch write failed: ${msg}`, { cause: err });
  }
  const failed = results.findIndex((r) => r.statusCode >= 400 && r.statusCode !== 424);
  if (failed < 0) {
    if (results.length === planned.length && results.every((r) => r.statusCode < 400)) return { kind: "ok" };
    return { kind: "retry", error: new Error("batch answered without a failing operation"), mayHaveApplied: false };
  }
  const status = results[failed].statusCode;
  const p = planned[failed];
  if (status === 413) throw new TooLarge(`operation ${failed} too large`);
  // An operation's failure rolled the whole batch back: nothing was applied.
  if (RETRY_STATUS.has(status)) return { kind: "retry", error: new Error(`an operation answered ${status}`), mayHaveApplied: false };
  if (p.record && status === 409) return { kind: "duplicate", record: p.record };
  if (!p.record && (status === 409 || status === 412 || status === 404 || status === 400)) return { kind: "conflict" };
  throw new StoreError(`Cosmos DB refused ${p.record ? "a usage record" : "a rollup update"} with status ${status}`);
}

/** Document ids among `records` already stored in the partition (one query, at most 100 ids). */
async function storedIds(ctx: CosmosContext, o: OpenedContainer, pk: PartitionKey, records: UsageRecord[]): Promise<Set<string>> {
  const ids = records.map((r) => docIdFor(r.id));
  const docs = await ctx.queryAll<{ id: string }>(o.container, storedIdsQuery(records[0].userId, ids), {
    partitionKey: pk as string | string[],
  });
  return new Set(docs.map((d) => d.id));
}

async function readRollup(ctx: CosmosContext, c: Container, id: string, pk: PartitionKey): Promise<RollupDoc2 | null> {
  return (await ctx.readDoc(c, id, pk as string | string[])) as unknown as RollupDoc2 | null;
}

/**
 * The operations that add `records` to one rollup document: a Create when it does
 * not exist; otherwise one Replace of the whole document conditional on the etag
 * read (one write per document per flush, however many groups the flush touches;
 * a patch is billed like a write of the whole document, and a group needs its own
 * patch), or, once a race was lost (`contended`), one Patch per group (increments
 * commute, so concurrent replicas stop invalidating each other).
 */
function rollupOps(
  level: RollupLevel,
  userId: string,
  period: string,
  records: UsageRecord[],
  stored: RollupDoc2 | null,
  contended: boolean,
): Planned[] {
  const deltas = groupDeltas(records);
  const id = rollupId(level, period);
  if (!stored) return [{ op: { operationType: "Create", resourceBody: newRollupDoc(level, userId, period, deltas) as never } }];
  if (!contended && stored._etag) {
    const next = newRollupDoc(level, userId, period, mergeGroups(stored.g ?? {}, deltas));
    return [{ op: { operationType: "Replace", id, resourceBody: next as never, ifMatch: stored._etag } }];
  }
  return [...deltas.entries()].map(([key, delta]) => ({
    op: { operationType: "Patch", id, resourceBody: groupPatch(key, delta, stored.g?.[key]) },
  }));
}
