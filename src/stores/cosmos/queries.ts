/**
 * Parameterized query builders. Caller strings only ever travel as parameters; the
 * only values spliced into query text are integers this module validated itself.
 * Usage queries always name the document type (documents written by other tools
 * into the same schema carry no type and are read as usage records), and per-user
 * queries always carry `c.user_id = @userId`: the partition key option alone is not
 * a filter on every server.
 */
import type { SqlParameter, SqlQuerySpec } from "@azure/cosmos";
import type { RecordFilter } from "../types.js";

export const USAGE_TYPE_CLAUSE = "(NOT IS_DEFINED(c.type) OR c.type = @usageType)";

/** Fields an aggregate or a rollup needs (leaves out request metadata, tags, messages). */
const AGGREGATE_FIELDS = [
  "id",
  "record_id",
  "user_id",
  "thread_id",
  "agent_name",
  "operation_type",
  "provider",
  "model",
  "timestamp",
  "input_tokens",
  "output_tokens",
  "total_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "input_cost",
  "output_cost",
  "total_cost",
  "input_cost_nanos",
  "output_cost_nanos",
  "total_cost_nanos",
  "priced",
  "estimated",
  "cached",
  "error",
  "dimensions",
];
const AGGREGATE_PROJECTION = AGGREGATE_FIELDS.map((f) => `c.${f}`).join(", ");

class Builder {
  readonly clauses: string[] = [USAGE_TYPE_CLAUSE];
  readonly parameters: SqlParameter[] = [{ name: "@usageType", value: "usage" }];
  add(clause: string, name: string, value: string): void {
    this.clauses.push(clause);
    this.parameters.push({ name, value });
  }
  where(): string {
    return this.clauses.join(" AND ");
  }
}

function filterBuilder(f: RecordFilter): Builder {
  const b = new Builder();
  if (f.userId !== undefined) b.add("c.user_id = @userId", "@userId", f.userId);
  if (f.threadId !== undefined) b.add("c.thread_id = @threadId", "@threadId", f.threadId);
  if (f.provider !== undefined) b.add("c.provider = @provider", "@provider", f.provider);
  if (f.model !== undefined) b.add("c.model = @model", "@model", f.model);
  if (f.agentName !== undefined) b.add("c.agent_name = @agentName", "@agentName", f.agentName);
  if (f.start !== undefined) b.add("c.timestamp >= @start", "@start", f.start);
  if (f.end !== undefined) b.add("c.timestamp < @end", "@end", f.end);
  return b;
}

function positiveInt(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`not a positive integer: ${n}`);
  return n;
}

/** Records matching `f`, projected to what aggregation needs. */
export function aggregateSourceQuery(f: RecordFilter): SqlQuerySpec {
  const b = filterBuilder(f);
  return { query: `SELECT ${AGGREGATE_PROJECTION} FROM c WHERE ${b.where()}`, parameters: b.parameters };
}

/** Records of one user in one UTC period (`YYYY-MM-DDTHH` or `YYYY-MM-DD`), for recomputing its rollups. */
export function periodSourceQuery(userId: string, period: string): SqlQuerySpec {
  const b = filterBuilder({ userId });
  b.add("STARTSWITH(c.timestamp, @period)", "@period", period);
  return { query: `SELECT ${AGGREGATE_PROJECTION} FROM c WHERE ${b.where()}`, parameters: b.parameters };
}

/**
 * One step of keyset paging, newest first. `mode` picks records strictly older than
 * `timestamp` (`before`) or exactly at it (`at`, every tie, to be ordered by id).
 */
export function listQuery(
  f: RecordFilter,
  opts: { top?: number; before?: string; at?: string },
): SqlQuerySpec {
  const b = filterBuilder(f);
  if (opts.before !== undefined) b.add("c.timestamp < @before", "@before", opts.before);
  if (opts.at !== undefined) b.add("c.timestamp = @at", "@at", opts.at);
  const top = opts.top === undefined ? "" : `TOP ${positiveInt(opts.top)} `;
  return { query: `SELECT ${top}* FROM c WHERE ${b.where()} ORDER BY c.timestamp DESC`, parameters: b.parameters };
}

/** Documents with a record id, optionally within one user's partition. */
export function byRecordIdQuery(docId: string, userId?: string): SqlQuerySpec {
  const b = new Builder();
  b.add("c.id = @id", "@id", docId);
  if (userId !== undefined) b.add("c.user_id = @userId", "@userId", userId);
  return { query: `SELECT * FROM c WHERE ${b.where()}`, parameters: b.parameters };
}

/** Which of these document ids one user has stored (replay detection; at most 100 ids). */
export function storedIdsQuery(userId: string, ids: string[]): SqlQuerySpec {
  const b = filterBuilder({ userId });
  b.clauses.push(`c.id IN (${ids.map((_, i) => `@id${i}`).join(", ")})`);
  ids.forEach((id, i) => b.parameters.push({ name: `@id${i}`, value: id }));
  return { query: `SELECT c.id FROM c WHERE ${b.where()}`, parameters: b.parameters };
}

/** Identity of the records older than `before` (optionally of one user), for pruning. */
export function pruneCandidatesQuery(before: string, userId?: string): SqlQuerySpec {
  const b = filterBuilder({ userId, end: before });
  return { query: `SELECT c.id, c.user_id, c.month, c.timestamp FROM c WHERE ${b.where()}`, parameters: b.parameters };
}

/** Whole records older than `before` (optionally of one user): pruning subtracts each from the global rollups. */
export function pruneDocsQuery(before: string, userId?: string): SqlQuerySpec {
  const b = filterBuilder({ userId, end: before });
  return { query: `SELECT * FROM c WHERE ${b.where()}`, parameters: b.parameters };
}

/** Hour rollups of the legacy (`rollup`) and incremental (`rollup-hour`) layouts. */
export const HOUR_ROLLUP_TYPES = ["rollup", "rollup-hour"];
export const ALL_ROLLUP_TYPES = ["rollup", "rollup-hour", "rollup-day"];

/**
 * Rollup documents of the given types (hour rollups by default), optionally of one
 * user, within an hour range (`YYYY-MM-DDTHH`, end exclusive), a day range
 * (`YYYY-MM-DD`, end exclusive) or a list of days.
 */
export function rollupQuery(opts: {
  userId?: string;
  startHour?: string;
  endHour?: string;
  startDay?: string;
  endDay?: string;
  days?: string[];
  types?: string[];
}): SqlQuerySpec {
  const types = opts.types ?? HOUR_ROLLUP_TYPES;
  const parameters: SqlParameter[] = types.map((t, i) => ({ name: `@type${i}`, value: t }));
  const clauses = [`c.type IN (${types.map((_, i) => `@type${i}`).join(", ")})`];
  const add = (clause: string, name: string, value: string | undefined) => {
    if (value === undefined) return;
    clauses.push(clause);
    parameters.push({ name, value });
  };
  add("c.user_id = @userId", "@userId", opts.userId);
  add("c.hour >= @startHour", "@startHour", opts.startHour);
  add("c.hour < @endHour", "@endHour", opts.endHour);
  add("c.day >= @startDay", "@startDay", opts.startDay);
  add("c.day < @endDay", "@endDay", opts.endDay);
  if (opts.days !== undefined) {
    if (opts.days.length === 0) clauses.push("false");
    else {
      clauses.push(`c.day IN (${opts.days.map((_, i) => `@day${i}`).join(", ")})`);
      opts.days.forEach((d, i) => parameters.push({ name: `@day${i}`, value: d }));
    }
  }
  return { query: `SELECT * FROM c WHERE ${clauses.join(" AND ")}`, parameters };
}

/** Settings of one namespace (always in the reserved settings partition). */
export function settingsQuery(partition: string, namespace: string): SqlQuerySpec {
  return {
    query: "SELECT * FROM c WHERE c.user_id = @partition AND c.type = @settingType AND c.namespace = @namespace",
    parameters: [
      { name: "@partition", value: partition },
      { name: "@settingType", value: "setting" },
      { name: "@namespace", value: namespace },
    ],
  };
}
