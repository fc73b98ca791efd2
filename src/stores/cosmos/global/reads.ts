/**
 * Application-wide aggregates from the global rollups: whole UTC days from day
 * documents, whole hours left at either end from hour documents, and only the partial
 * hours at the ends (at most two) from raw records. Documents read depend on the range,
 * never on the number of users: a 30-day range is about 30 day documents plus up to 46
 * hour documents, all in the one global partition. The partial hours are a
 * cross-partition query bounded by time: it reads the application's records of those
 * hours (every user's), which is the cost of a range not aligned to hours.
 */
import type { SqlQuerySpec } from "@azure/cosmos";
import { aggregateInMemory, type AggregateQuery, type AggregateRow, type GroupKey } from "../../types.js";
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { combinePlanned, planRange, rawRecords } from "../user-queries.js";
import { globalPk } from "./batch.js";
import { GLOBAL_DAY_TYPE, GLOBAL_HOUR_TYPE, GLOBAL_PARTITION, type LeaseDoc } from "./layout.js";

/** Group keys the global rollups answer (they keep no user, thread or dimension). */
const GLOBAL_KEYS = new Set<GroupKey>(["provider", "model", "agent", "operation", "hour", "day"]);

export function globalRollupsCanAnswer(q: AggregateQuery): boolean {
  return q.filter.userId === undefined && q.filter.threadId === undefined && q.groupBy.every((k) => GLOBAL_KEYS.has(k));
}

export async function aggregateFromGlobalRollups(
  ctx: CosmosContext,
  o: OpenedContainer,
  lease: LeaseDoc,
  query: AggregateQuery,
): Promise<AggregateRow[]> {
  const f = query.filter;
  const plan = planRange(f.start, f.end, query.groupBy.includes("hour"));
  if (!plan) return aggregateInMemory(await rawRecords(ctx, o, query, f.start, f.end), query);
  const scope = { partitionKey: globalPk(ctx, o) };
  const reads: Array<Promise<Array<Record<string, unknown>>>> = [];
  if (plan.days) reads.push(ctx.queryAll(o.container, globalDocsQuery(lease.epoch, GLOBAL_DAY_TYPE, "day", plan.days), scope));
  for (const hours of plan.hours) reads.push(ctx.queryAll(o.container, globalDocsQuery(lease.epoch, GLOBAL_HOUR_TYPE, "hour", hours), scope));
  return combinePlanned(query, plan, reads, (start, end) => rawRecords(ctx, o, query, start, end));
}

/** Documents of one type and epoch in the global partition within a day or hour range (end exclusive). */
export function globalDocsQuery(epoch: number, type: string, field: "day" | "hour", range: [string | undefined, string | undefined]): SqlQuerySpec {
  const clauses = ["c.user_id = @partition", "c.type = @type", "c.epoch = @epoch"];
  const parameters: Array<{ name: string; value: string | number }> = [
    { name: "@partition", value: GLOBAL_PARTITION },
    { name: "@type", value: type },
    { name: "@epoch", value: epoch },
  ];
  if (range[0] !== undefined) {
    clauses.push(`c.${field} >= @start`);
    parameters.push({ name: "@start", value: range[0] });
  }
  if (range[1] !== undefined) {
    clauses.push(`c.${field} < @end`);
    parameters.push({ name: "@end", value: range[1] });
  }
  return { query: `SELECT * FROM c WHERE ${clauses.join(" AND ")}`, parameters };
}
