/**
 * How each SQLite table answers an aggregate: its group columns, its sums, how it
 * filters, and the helpers that split a range between daily and hourly rollups.
 */
import { ValidationError } from "../../errors.js";
import { type AggregateQuery, type GroupKey, type RecordFilter } from "../types.js";
import { TOTAL_COLUMNS } from "./schema.js";

/** Shared with the Cosmos store; kept importable from here. */
export { mergeRows } from "../types.js";

export type AggregateTable =
  | "usage_records"
  | "usage_rollup_hourly"
  | "usage_rollup_daily"
  | "usage_global_hourly"
  | "usage_global_daily";

type WhereBuilder = (filter: RecordFilter) => { where: string[]; params: Record<string, unknown> };

export interface AggregateSource {
  groups: Record<string, string>;
  totals: string;
  where: WhereBuilder;
}

const DIMENSION_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const DAY_MS = 86_400_000;

const rollupGroups = (bucket: "hour" | "day", perUser: boolean): Record<string, string> => ({
  ...(perUser ? { user: "user_id" } : {}),
  provider: "provider",
  model: "model",
  agent: "NULLIF(agent_name, '')",
  operation: "operation_type",
  ...(bucket === "hour" ? { hour: "hour", day: "substr(hour, 1, 10)" } : { day: "day" }),
});

const hourly = (f: RecordFilter) => rollupWhere(f, "hour", (iso) => iso.slice(0, 13));
const daily = (f: RecordFilter) => rollupWhere(f, "day", (iso) => iso.slice(0, 10));

export const SOURCES: Record<AggregateTable, AggregateSource> = {
  usage_records: {
    groups: {
      user: "user_id",
      thread: "thread_id",
      provider: "provider",
      model: "model",
      agent: "agent_name",
      operation: "operation_type",
      hour: "substr(timestamp, 1, 13)",
      day: "day",
    },
    totals: TOTAL_COLUMNS.raw,
    where: (f) => whereClause(f),
  },
  usage_rollup_hourly: { groups: rollupGroups("hour", true), totals: TOTAL_COLUMNS.rollup, where: hourly },
  usage_rollup_daily: { groups: rollupGroups("day", true), totals: TOTAL_COLUMNS.rollup, where: daily },
  usage_global_hourly: { groups: rollupGroups("hour", false), totals: TOTAL_COLUMNS.rollup, where: (f) => hourly({ ...f, userId: undefined }) },
  usage_global_daily: { groups: rollupGroups("day", false), totals: TOTAL_COLUMNS.rollup, where: (f) => daily({ ...f, userId: undefined }) },
};

export function groupExpression(key: GroupKey, columns: Record<string, string>, params: Record<string, unknown>, i: number): string {
  if (key.startsWith("dimension:")) {
    const name = key.slice("dimension:".length);
    if (!DIMENSION_NAME.test(name)) throw new ValidationError("groupBy", `invalid dimension name "${name}"`);
    params[`dim${i}`] = `$."${name}"`;
    return `json_extract(dimensions, @dim${i})`;
  }
  const column = columns[key];
  if (!column) throw new ValidationError("groupBy", `unknown group key "${key}"`);
  return column;
}

export function whereClause(filter: RecordFilter): { where: string[]; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  const eq = (column: string, name: string, value: string | undefined) => {
    if (value === undefined) return;
    where.push(`${column} = @${name}`);
    params[name] = value;
  };
  eq("user_id", "userId", filter.userId);
  eq("thread_id", "threadId", filter.threadId);
  eq("provider", "provider", filter.provider);
  eq("model", "model", filter.model);
  eq("agent_name", "agentName", filter.agentName);
  if (filter.start !== undefined) (where.push("ts >= @startTs"), (params.startTs = Date.parse(filter.start)));
  if (filter.end !== undefined) (where.push("ts < @endTs"), (params.endTs = Date.parse(filter.end)));
  return { where, params };
}

function rollupWhere(
  filter: RecordFilter,
  bucket: "hour" | "day",
  toBucket: (iso: string) => string,
): { where: string[]; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (filter.userId !== undefined) (where.push("user_id = @userId"), (params.userId = filter.userId));
  if (filter.provider !== undefined) (where.push("provider = @provider"), (params.provider = filter.provider));
  if (filter.model !== undefined) (where.push("model = @model"), (params.model = filter.model));
  // Rollups store a missing agent as '' (a key column cannot be NULL).
  if (filter.agentName !== undefined) (where.push("agent_name = @agentName"), (params.agentName = filter.agentName));
  if (filter.start !== undefined) (where.push(`${bucket} >= @startBucket`), (params.startBucket = toBucket(filter.start)));
  if (filter.end !== undefined) (where.push(`${bucket} < @endBucket`), (params.endBucket = toBucket(filter.end)));
  return { where, params };
}

/** Splits an hour-aligned range at UTC midnights; `days` is null when no whole day fits. */
export function splitAtDays(start: string | undefined, end: string | undefined) {
  const s = start === undefined ? undefined : Date.parse(start);
  const e = end === undefined ? undefined : Date.parse(end);
  const firstDay = s === undefined ? undefined : Math.ceil(s / DAY_MS) * DAY_MS;
  const lastDay = e === undefined ? undefined : Math.floor(e / DAY_MS) * DAY_MS;
  if (firstDay !== undefined && lastDay !== undefined && firstDay >= lastDay) return { head: null, days: null, tail: null };
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    head: s !== undefined && firstDay! > s ? { start: iso(s), end: iso(firstDay!) } : null,
    days: { start: firstDay === undefined ? undefined : iso(firstDay), end: lastDay === undefined ? undefined : iso(lastDay) },
    tail: e !== undefined && lastDay! < e ? { start: iso(lastDay!), end: iso(e) } : null,
  };
}

export function withRange(query: AggregateQuery, range: { start?: string; end?: string }): AggregateQuery {
  return { ...query, filter: { ...query.filter, start: range.start, end: range.end } };
}

export function isHourAligned(iso: string | undefined): boolean {
  return iso === undefined || iso.slice(13) === ":00:00.000Z";
}
