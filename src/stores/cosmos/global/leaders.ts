/**
 * The Cosmos side of the leaderboard fast path (the algorithm is query/leaderboard.ts),
 * from the documents the consumer keeps in the global partition (leader-docs.ts):
 *
 * - one day's ranked entities: the first rows of `ORDER BY c.cost DESC` over that day's
 *   per-entity documents (a query reading `offset + limit` documents);
 * - a span of several whole days: the same over that span's window documents. A window
 *   is built the first time a leaderboard asks for its span (once a day for "the last 30
 *   days"), under the maintenance lock after a drain, and registered in the lease: derived
 *   from an overlapping registered window (yesterday's) plus the days gained minus the
 *   days lost, or else summed from the span's entity-day documents (window-sums.ts); either
 *   way one document per entity is written; from then on every commit (consumer, re-price,
 *   prune) updates the windows covering its days in the same batch, so a window stays
 *   exact. At most `MAX_WINDOWS` per entity are registered, the oldest dropped first
 *   (and its documents deleted);
 * - a candidate's exact totals over any range: its entity-day documents for the whole
 *   days (one query for all candidates) and raw records for the partial days at the ends
 *   (one cross-partition query per end, bounded by time and by the candidates' ids).
 *
 * Before the consumer's rollups are ready, both answer from a grouping of the range.
 */
import { randomUUID } from "node:crypto";
import type { OperationInput, SqlParameter, SqlQuerySpec } from "@azure/cosmos";
import type { UsageRecord } from "../../../record/types.js";
import {
  aggregateInMemory,
  mergeRows,
  type AggregateRow,
  type DaySpan,
  type LeaderEntity,
  type LeaderKey,
  type SpanLeader,
} from "../../types.js";
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { fromUsageDocument } from "../documents.js";
import { USAGE_TYPE_CLAUSE } from "../queries.js";
import { globalPk, MAX_BATCH_OPERATIONS, sendGlobalBatch } from "./batch.js";
import type { GlobalConsumer } from "./consumer.js";
import { acquire, mustHold, release } from "./intents.js";
import { windowKey, type EntityDoc } from "./leader-docs.js";
import { GLOBAL_PARTITION, THREAD_DAY_TYPE, USER_DAY_TYPE, WINDOW_TYPE, type LeaderWindow, type LeaseDoc } from "./layout.js";
import { readLease } from "./lease.js";
import { messageOf, statusOf } from "../retry.js";
import { leaseReplace } from "./rollup-writes.js";
import { windowSums } from "./window-sums.js";

const MAX_WINDOWS = 4;
const DAY_MS = 86_400_000;

type Fallback = (entity: LeaderEntity, range: { start: string; end: string }) => Promise<AggregateRow[]>;

export async function cosmosLeaders(
  ctx: CosmosContext,
  consumer: GlobalConsumer,
  fallback: Fallback,
  entity: LeaderEntity,
  spans: DaySpan[],
  offset: number,
  limit: number,
): Promise<SpanLeader[]> {
  const o = await ctx.open();
  const out: SpanLeader[] = [];
  for (const [i, span] of spans.entries()) {
    let lease = await readLease(ctx, o);
    let rows: Array<{ user: string; thread?: string; cost: number }>;
    if (!ctx.cfg.globalRollups || !lease?.ready) {
      const grouped = (await fallback(entity, { start: `${span.start}T00:00:00.000Z`, end: `${span.end}T00:00:00.000Z` })).sort((a, b) => b.costNanos - a.costNanos);
      rows = grouped.map((r) => ({ user: String(r.key.user), thread: r.key.thread ?? undefined, cost: r.costNanos }));
    } else if (Date.parse(span.end) - Date.parse(span.start) === DAY_MS) {
      rows = await topRows(ctx, o, lease.epoch, entity === "user" ? USER_DAY_TYPE : THREAD_DAY_TYPE, "day", span.start, offset + limit);
    } else {
      const w = await ensureWindow(ctx, o, consumer, entity, span);
      lease = (await readLease(ctx, o))!;
      rows = await topRows(ctx, o, lease.epoch, WINDOW_TYPE, "win", windowKey(lease.epoch, w), offset + limit);
    }
    for (const r of rows.slice(offset, offset + limit)) {
      out.push(entity === "user" ? { user: r.user, costNanos: r.cost, span: i } : { user: r.user, thread: r.thread, costNanos: r.cost, span: i });
    }
  }
  return out;
}

const scope = (ctx: CosmosContext, o: OpenedContainer) => ({ partitionKey: globalPk(ctx, o) });

/** Containers found without the leaderboards' composite indexes (created by an earlier version). */
const withoutComposite = new WeakSet<CosmosContext>();

/**
 * The first `top` entities of one day or window by cost. The ORDER BY names the equality
 * filters first so the service serves it from the composite index (type, epoch, day|win,
 * cost DESC) that container-setup.ts creates, reading about `top` index entries; a
 * multi-property ORDER BY fails (400) on a container without that index, so there the
 * single-property form is used (correct, but it walks the cost index of the whole global
 * partition) and a warning says how to add the index (README).
 */
async function topRows(ctx: CosmosContext, o: OpenedContainer, epoch: number, type: string, field: "day" | "win", value: string, top: number): Promise<Array<{ user: string; thread?: string; cost: number }>> {
  if (!withoutComposite.has(ctx)) {
    try {
      return await ctx.queryAll(o.container, topQuery(epoch, type, field, value, top, true), scope(ctx, o));
    } catch (err) {
      // queryAll wraps the service's answer (a StoreError whose cause carries the status).
      const cause = (err as { cause?: unknown }).cause ?? err;
      if (statusOf(cause) !== 400 || !/composite index/i.test(messageOf(cause))) throw err;
      withoutComposite.add(ctx);
      ctx.cfg.logger?.warn("leaderboards: the container lacks the composite indexes on (type, epoch, day|win, cost DESC); add them (README, Cosmos DB) to make leaderboard reads cheap", { error: messageOf(err) });
    }
  }
  return ctx.queryAll(o.container, topQuery(epoch, type, field, value, top, false), scope(ctx, o));
}

export function topQuery(epoch: number, type: string, field: "day" | "win", value: string, top: number, composite: boolean): SqlQuerySpec {
  if (!Number.isInteger(top) || top < 1) throw new RangeError(`not a positive integer: ${top}`);
  const order = composite ? `c.type ASC, c.epoch ASC, c.${field} ASC, c.cost DESC` : "c.cost DESC";
  return {
    query: `SELECT TOP ${top} c.user, c.thread, c.cost FROM c WHERE c.user_id = @partition AND c.type = @type AND c.epoch = @epoch AND c.${field} = @value ORDER BY ${order}`,
    parameters: [
      { name: "@partition", value: GLOBAL_PARTITION },
      { name: "@type", value: type },
      { name: "@epoch", value: epoch },
      { name: "@value", value },
    ],
  };
}

/** The registered window of `span`, built (under the lock, after a drain) when there is none. */
async function ensureWindow(ctx: CosmosContext, o: OpenedContainer, consumer: GlobalConsumer, entity: LeaderEntity, span: DaySpan): Promise<LeaderWindow> {
  const find = (lease: LeaseDoc | null) => lease?.windows?.find((w) => w.entity === entity && w.start === span.start && w.end === span.end);
  const existing = find(await readLease(ctx, o));
  if (existing) return existing;
  const holder = randomUUID();
  await acquire(ctx, o, holder, ctx.cfg.globalLockStaleMs);
  try {
    await consumer.drainNow({ holder });
    let lease = await mustHold(ctx, o, holder);
    const again = find(lease);
    if (again) return again;
    const w: LeaderWindow = { entity, start: span.start, end: span.end, build: randomUUID().slice(0, 8) };
    const win = windowKey(lease.epoch, w);
    const sums = await windowSums(ctx, o, lease.epoch, entity, span, win, lease.windows ?? []);
    const creates: OperationInput[] = [...sums.values()].map((d) => {
      const body = Object.fromEntries(Object.entries({ ...d, cost: d.t.costNanos }).filter(([k, v]) => v !== undefined && !k.startsWith("_")));
      return { operationType: "Create", resourceBody: body as never };
    });
    const step = MAX_BATCH_OPERATIONS - 1;
    const ofEntity = (lease.windows ?? []).filter((x) => x.entity === entity);
    const dropped = ofEntity.slice(0, Math.max(0, ofEntity.length - (MAX_WINDOWS - 1)));
    for (let i = 0; i === 0 || i < creates.length; i += step) {
      const last = i + step >= creates.length;
      const kept = (lease.windows ?? []).filter((x) => !dropped.includes(x));
      const next: LeaseDoc = last ? { ...lease, windows: [...kept, w] } : lease;
      if ((await sendGlobalBatch(ctx, o, [...creates.slice(i, i + step), leaseReplace(lease, next)], "a leaderboard window build")) === "conflict") {
        throw new Error("global rollups: the lease changed while a leaderboard window was built (lock taken over?)");
      }
      lease = await mustHold(ctx, o, holder);
    }
    await release(ctx, o, holder);
    // Nobody reads a dropped window's documents any more (reads name the registered build).
    for (const d of dropped) await deleteWindowDocs(ctx, o, windowKey(lease.epoch, d)).catch(() => undefined);
    return w;
  } finally {
    await release(ctx, o, holder).catch(() => undefined);
  }
}

async function deleteWindowDocs(ctx: CosmosContext, o: OpenedContainer, win: string): Promise<void> {
  const docs = await ctx.queryAll<{ id: string }>(
    o.container,
    { query: "SELECT c.id FROM c WHERE c.user_id = @partition AND c.win = @win", parameters: [{ name: "@partition", value: GLOBAL_PARTITION }, { name: "@win", value: win }] },
    scope(ctx, o),
  );
  for (let i = 0; i < docs.length; i += MAX_BATCH_OPERATIONS) {
    const ops: OperationInput[] = docs.slice(i, i + MAX_BATCH_OPERATIONS).map((d) => ({ operationType: "Delete", id: d.id }));
    await sendGlobalBatch(ctx, o, ops, "the clean-up of a dropped leaderboard window");
  }
}

/** Exact totals of the candidates over `range` (any alignment). */
export async function cosmosLeaderTotals(
  ctx: CosmosContext,
  fallback: Fallback,
  entity: LeaderEntity,
  keys: LeaderKey[],
  range: { start: string; end: string },
): Promise<AggregateRow[]> {
  if (keys.length === 0) return [];
  const o = await ctx.open();
  const want = new Set(keys.map((k) => JSON.stringify(entity === "user" ? [k.user] : [k.thread, k.user])));
  const keyOf = (user: string, thread?: string | null) => JSON.stringify(entity === "user" ? [user] : [thread, user]);
  const groupBy = entity === "user" ? (["user"] as const) : (["thread", "user"] as const);
  const lease = await readLease(ctx, o);
  if (!ctx.cfg.globalRollups || !lease?.ready) {
    return (await fallback(entity, range)).filter((r) => want.has(keyOf(String(r.key.user), r.key.thread)));
  }
  const s = Date.parse(range.start);
  const e = Date.parse(range.end);
  const firstWhole = Math.ceil(s / DAY_MS) * DAY_MS;
  const lastWhole = Math.floor(e / DAY_MS) * DAY_MS;
  const iso = (ms: number) => new Date(ms).toISOString();
  const users = [...new Set(keys.map((k) => k.user))];
  const threads = entity === "thread" ? [...new Set(keys.map((k) => String(k.thread)))] : undefined;
  const parts: Array<Promise<AggregateRow[]>> = [];
  const raw = async (start: number, end: number) => {
    const docs = await ctx.queryAll(o.container, candidateRecordsQuery(users, threads, iso(start), iso(end)));
    const records: UsageRecord[] = docs.map(fromUsageDocument).filter((r) => want.has(keyOf(r.userId, r.threadId)));
    return aggregateInMemory(records, { filter: {}, groupBy: [...groupBy] });
  };
  if (firstWhole >= lastWhole) parts.push(raw(s, e));
  else {
    if (s < firstWhole) parts.push(raw(s, firstWhole));
    if (lastWhole < e) parts.push(raw(lastWhole, e));
    parts.push(
      ctx
        .queryAll<EntityDoc>(o.container, candidateDaysQuery(lease.epoch, entity, users, threads, iso(firstWhole).slice(0, 10), iso(lastWhole).slice(0, 10)), scope(ctx, o))
        .then((docs) =>
          docs
            .filter((d) => want.has(keyOf(d.user, d.thread)))
            .map((d): AggregateRow => ({ ...d.t, key: entity === "user" ? { user: d.user } : { thread: d.thread ?? null, user: d.user } })),
        ),
    );
  }
  return mergeRows((await Promise.all(parts)).flat(), [...groupBy]);
}

function inList(prefix: string, values: string[], parameters: SqlParameter[]): string {
  values.forEach((v, i) => parameters.push({ name: `@${prefix}${i}`, value: v }));
  return `(${values.map((_, i) => `@${prefix}${i}`).join(", ")})`;
}

function candidateDaysQuery(epoch: number, entity: LeaderEntity, users: string[], threads: string[] | undefined, start: string, end: string): SqlQuerySpec {
  const parameters: SqlParameter[] = [
    { name: "@partition", value: GLOBAL_PARTITION },
    { name: "@type", value: entity === "user" ? USER_DAY_TYPE : THREAD_DAY_TYPE },
    { name: "@epoch", value: epoch },
    { name: "@start", value: start },
    { name: "@end", value: end },
  ];
  let where = `c.user_id = @partition AND c.type = @type AND c.epoch = @epoch AND c.day >= @start AND c.day < @end AND c.user IN ${inList("u", users, parameters)}`;
  if (threads) where += ` AND c.thread IN ${inList("t", threads, parameters)}`;
  return { query: `SELECT * FROM c WHERE ${where}`, parameters };
}

function candidateRecordsQuery(users: string[], threads: string[] | undefined, start: string, end: string): SqlQuerySpec {
  const parameters: SqlParameter[] = [
    { name: "@usageType", value: "usage" },
    { name: "@start", value: start },
    { name: "@end", value: end },
  ];
  let where = `${USAGE_TYPE_CLAUSE} AND c.timestamp >= @start AND c.timestamp < @end AND c.user_id IN ${inList("u", users, parameters)}`;
  if (threads) where += ` AND c.thread_id IN ${inList("t", threads, parameters)}`;
  return { query: `SELECT * FROM c WHERE ${where}`, parameters };
}
