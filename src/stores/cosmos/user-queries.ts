/**
 * Aggregates of one user (a `userId` filter), inside that user's partition. Where
 * rollups can answer (no thread filter, no dimension group), a range is read as:
 * whole UTC days from day rollups, the whole hours left at either end from hour
 * rollups, and only the partial hours at the ends as raw records. A 30-day query
 * reads about 30 + 48 documents, not one per hour. Legacy hour rollups (written by
 * earlier versions, see rollup-docs.ts) cover the records written before the
 * upgrade and are added for the whole range; a rebuilt container has none.
 */
import type { UsageRecord } from "../../record/types.js";
import { aggregateInMemory, mergeRows, type AggregateQuery, type AggregateRow, type GroupKey } from "../types.js";
import type { OpenedContainer } from "./container-setup.js";
import type { CosmosContext } from "./context.js";
import { fromUsageDocument } from "./documents.js";
import { aggregateSourceQuery, rollupQuery } from "./queries.js";
import { asRollupDocument, DAY_TYPE, HOUR_TYPE, LEGACY_TYPE } from "./rollup-docs.js";
import { aggregateRollups, type RollupDocument } from "./rollups.js";

const ROLLUP_KEYS = new Set<GroupKey>(["user", "provider", "model", "agent", "operation", "hour", "day"]);
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export async function aggregateUser(ctx: CosmosContext, query: AggregateQuery): Promise<AggregateRow[]> {
  const o = await ctx.open();
  const f = query.filter;
  const userId = f.userId!;
  if (f.threadId !== undefined || !query.groupBy.every((k) => ROLLUP_KEYS.has(k))) return raw(ctx, o, query, f.start, f.end);

  const plan = planRange(f.start, f.end, query.groupBy.includes("hour"));
  if (!plan) return raw(ctx, o, query, f.start, f.end);
  const scope = ctx.scope(o, userId);
  const reads: Array<Promise<Array<Record<string, unknown>>>> = [];
  if (plan.days) {
    reads.push(ctx.queryAll(o.container, rollupQuery({ userId, startDay: plan.days[0], endDay: plan.days[1], types: [DAY_TYPE] }), scope));
  }
  for (const [startHour, endHour] of plan.hours) {
    reads.push(ctx.queryAll(o.container, rollupQuery({ userId, startHour, endHour, types: [HOUR_TYPE] }), scope));
  }
  reads.push(
    ctx.queryAll(o.container, rollupQuery({ userId, startHour: plan.whole[0], endHour: plan.whole[1], types: [LEGACY_TYPE] }), scope),
  );
  return combinePlanned(query, plan, reads, (start, end) => rawRecords(ctx, o, query, start, end));
}

/**
 * The answer to `query` from the rollup documents a plan read (whole days and hours) and
 * the raw records of its partial hours at the ends (`raw`): shared by per-user and global reads.
 */
export async function combinePlanned(
  query: AggregateQuery,
  plan: RangePlan,
  reads: Array<Promise<Array<Record<string, unknown>>>>,
  raw: (start: string | undefined, end: string | undefined) => Promise<UsageRecord[]>,
): Promise<AggregateRow[]> {
  const f = query.filter;
  const [docs, head, tail] = await Promise.all([
    Promise.all(reads).then((lists) => lists.flat().map(asRollupDocument)),
    plan.rawHead ? raw(f.start, plan.rawHead) : [],
    plan.rawTail ? raw(plan.rawTail, f.end) : [],
  ]);
  return mergeRows(
    [
      ...aggregateRollups(docs as RollupDocument[], { filter: { ...f, start: undefined, end: undefined }, groupBy: query.groupBy }),
      ...aggregateInMemory([...head, ...tail], query),
    ],
    query.groupBy,
  );
}

export interface RangePlan {
  /** Raw records from the filter's start to here (the partial first hour). */
  rawHead?: string;
  /** Raw records from here to the filter's end (the partial last hour). */
  rawTail?: string;
  /** Day rollups, `YYYY-MM-DD`, end exclusive. */
  days?: [string | undefined, string | undefined];
  /** Hour rollup ranges, `YYYY-MM-DDTHH`, end exclusive (undefined: unbounded). */
  hours: Array<[string | undefined, string | undefined]>;
  /** The whole range rollups cover, for legacy hour rollups. */
  whole: [string | undefined, string | undefined];
}

/** Splits [start, end) into raw partial hours, whole hours and whole days; undefined when under an hour. */
export function planRange(start: string | undefined, end: string | undefined, byHour: boolean): RangePlan | undefined {
  const s = start === undefined ? undefined : Date.parse(start);
  const e = end === undefined ? undefined : Date.parse(end);
  const hs = s === undefined ? undefined : Math.ceil(s / HOUR_MS) * HOUR_MS;
  const he = e === undefined ? undefined : Math.floor(e / HOUR_MS) * HOUR_MS;
  if (hs !== undefined && he !== undefined && hs >= he) return undefined;
  const plan: RangePlan = { hours: [], whole: [hourOf(hs), hourOf(he)] };
  if (s !== undefined && hs !== s) plan.rawHead = new Date(hs!).toISOString();
  if (e !== undefined && he !== e) plan.rawTail = new Date(he!).toISOString();
  if (byHour) {
    plan.hours.push([hourOf(hs), hourOf(he)]);
    return plan;
  }
  // An open end is a whole number of days on that side.
  const ds = hs === undefined ? undefined : Math.ceil(hs / DAY_MS) * DAY_MS;
  const de = he === undefined ? undefined : Math.floor(he / DAY_MS) * DAY_MS;
  if (ds !== undefined && de !== undefined && ds >= de) {
    plan.hours.push([hourOf(hs), hourOf(he)]);
    return plan;
  }
  plan.days = [dayOf(ds), dayOf(de)];
  if (hs !== undefined && hs < ds!) plan.hours.push([hourOf(hs), hourOf(ds)]);
  if (he !== undefined && de! < he) plan.hours.push([hourOf(de), hourOf(he)]);
  return plan;
}

const hourOf = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().slice(0, 13));
const dayOf = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().slice(0, 10));

/** Records matching the query's filter between `start` and `end` (one user's partition when it names a user). */
export async function rawRecords(
  ctx: CosmosContext,
  o: OpenedContainer,
  query: AggregateQuery,
  start: string | undefined,
  end: string | undefined,
): Promise<UsageRecord[]> {
  const f = { ...query.filter, start, end };
  const docs = await ctx.queryAll(o.container, aggregateSourceQuery(f), ctx.scope(o, f.userId));
  return docs.map(fromUsageDocument);
}

async function raw(ctx: CosmosContext, o: OpenedContainer, query: AggregateQuery, start?: string, end?: string) {
  return aggregateInMemory(await rawRecords(ctx, o, query, start, end), query);
}
