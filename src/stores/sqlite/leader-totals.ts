/**
 * Exact sums over any range for a few leaderboard candidates (see query/leaderboard.ts):
 * whole days from the per-day tables (one point read per day and candidate) or, for the
 * cost alone, from the range's window when it has one (one point read per candidate), and
 * the partial days at the ends from raw records through the (user_id, ts) and
 * (thread_id, ts) indexes (heavy users' whole hours from their hourly rollups).
 */
import type Database from "better-sqlite3";
import type { LeaderEntity, LeaderKey } from "../types.js";
import { splitAtDays } from "./aggregate-sql.js";
import { TOTAL_COLUMNS } from "./schema.js";
import { daysOf, type SpanWindows } from "./span-windows.js";

export interface EntitySql {
  table: string;
  /** Key columns in the day table, and the field of each in a candidate key. */
  columns: Array<{ column: string; field: "user" | "thread" }>;
}

export const ENTITIES: Record<LeaderEntity, EntitySql> = {
  user: { table: "usage_user_days", columns: [{ column: "user_id", field: "user" }] },
  thread: {
    table: "usage_thread_days",
    columns: [
      { column: "thread_id", field: "thread" },
      { column: "user_id", field: "user" },
    ],
  },
};

/** Records in a day above which a user's partial day is read from hourly rollups (when kept). */
const BUSY_DAY = 240;

/** Which sums to read: every total, or the cost alone. */
export type Sums = "totals" | "cost";

const SUMS: Record<Sums, { rollup: string; raw: string }> = {
  totals: TOTAL_COLUMNS,
  cost: { rollup: "SUM(cost_nanos) AS costNanos", raw: "SUM(total_cost_nanos) AS costNanos" },
};

/** One row per candidate and part of the range (the caller merges them). */
export type PartRow = Record<string, number | string | null> & { user: string; thread?: string; costNanos: number };

/**
 * The sums of `keys` over `range`, in parts: the caller adds up the rows of one entity.
 * `statement` is the caller's prepared-statement cache.
 */
export function candidateSums(
  statement: (sql: string) => Database.Statement,
  windows: SpanWindows,
  entity: LeaderEntity,
  keys: LeaderKey[],
  range: { start: string; end: string },
  sums: Sums,
): PartRow[] {
  const e = ENTITIES[entity];
  const s = SUMS[sums];
  // Candidates travel as one JSON array bound to one parameter: no statement per key.
  // CROSS JOIN keeps them the outer loop: left free, the planner may drive the join from
  // the heavy-user list instead and walk every heavy user's rollups (measured: seconds at
  // 10M records, where every user is heavy).
  const json = JSON.stringify(keys.map((k) => e.columns.map((c) => k[c.field] ?? null)));
  const keyAt = (i: number) => `json_extract(j.value, '$[${i}]')`;
  const join = e.columns.map((c, i) => `t.${c.column} = ${keyAt(i)}`).join(" AND ");
  const group = e.columns.map((c) => `t.${c.column}`).join(", ");
  const select = e.columns.map((c) => `t.${c.column} AS ${c.field}`).join(", ");

  const fromDays = (start: string, end: string): PartRow[] => {
    const span = { start: start.slice(0, 10), end: end.slice(0, 10) };
    if (sums === "cost" && windows.has(entity, span)) {
      // The window holds each entity's cost over exactly these days: one point read each.
      const thread = entity === "thread" ? keyAt(0) : "''";
      const user = keyAt(e.columns.length - 1);
      return statement(
        `SELECT t.thread_id AS thread, t.user_id AS user, t.cost_nanos AS costNanos FROM json_each(@json) j
         CROSS JOIN usage_leader_span_costs t ON t.entity = @entity AND t.first_day = @start AND t.end_day = @end
         AND t.thread_id = ${thread} AND t.user_id = ${user}`,
      ).all({ json, entity, ...span }) as PartRow[];
    }
    // The day tables are keyed (day, entity): a candidate's whole days are one point read
    // per (day, candidate), the days as a second JSON array in the outer loop.
    return statement(
      `SELECT ${select}, ${s.rollup} FROM json_each(@days) d CROSS JOIN json_each(@json) j
       CROSS JOIN ${e.table} t ON t.day = d.value AND ${join} GROUP BY ${group}`,
    ).all({ json, days: JSON.stringify(daysOf(span)) }) as PartRow[];
  };
  const raw = (start: string, end: string) =>
    statement(
      `SELECT ${select}, ${s.raw} FROM json_each(@json) j CROSS JOIN usage_records t ON ${join}
       WHERE t.ts >= @start AND t.ts < @end GROUP BY ${group}`,
    ).all({ json, start: Date.parse(start), end: Date.parse(end) }) as PartRow[];
  // A partial day of a user (the pieces at the ends lie within one UTC day each): a busy
  // user's whole hours from their hourly rollups (a day of thousands of records), the rest
  // from raw records. Busy is per day, from the day table: at 10M records every user has
  // hourly rollups, and reading a typical user's dozen raw records costs less than their
  // 24 hours × models × agents rollup rows (measured: 139 ms for 913 candidates that way).
  const users = (busy: boolean) =>
    `WITH k AS (SELECT d.user_id AS u FROM json_each(@json) j CROSS JOIN usage_user_days d
       ON d.day = @day AND d.user_id = json_extract(j.value, '$[0]')
       WHERE ${busy ? "" : "NOT "}(d.requests > ${BUSY_DAY} AND EXISTS (SELECT 1 FROM usage_user_counts c WHERE c.user_id = d.user_id AND c.heavy = 1)))`;
  const userRaw = (start: string, end: string, busy: boolean) =>
    statement(
      `${users(busy)} SELECT t.user_id AS user, ${s.raw} FROM k CROSS JOIN usage_records t ON t.user_id = k.u
       WHERE t.ts >= @start AND t.ts < @end GROUP BY t.user_id`,
    ).all({ json, day: start.slice(0, 10), start: Date.parse(start), end: Date.parse(end) }) as PartRow[];
  const fromRaw = (start: string, end: string): PartRow[] => {
    if (entity !== "user") return raw(start, end);
    // A range under a day may still cross one midnight: one piece per day.
    const midnight = new Date(Math.floor(Date.parse(start) / 86_400_000) * 86_400_000 + 86_400_000).toISOString();
    if (midnight < end) return [...fromRaw(start, midnight), ...fromRaw(midnight, end)];
    const hours = wholeHours(start, end);
    if (!hours) return raw(start, end);
    const busyHours = statement(
      `${users(true)} SELECT t.user_id AS user, ${s.rollup} FROM k CROSS JOIN usage_rollup_hourly t ON t.user_id = k.u
       WHERE t.hour >= @start AND t.hour < @end GROUP BY t.user_id`,
    ).all({ json, day: start.slice(0, 10), start: hours.start.slice(0, 13), end: hours.end.slice(0, 13) }) as PartRow[];
    return [
      ...userRaw(start, end, false),
      ...busyHours,
      ...(start < hours.start ? userRaw(start, hours.start, true) : []),
      ...(hours.end < end ? userRaw(hours.end, end, true) : []),
    ];
  };

  const parts = splitAtDays(range.start, range.end);
  return parts.days
    ? [
        ...(parts.head ? fromRaw(parts.head.start, parts.head.end) : []),
        ...fromDays(parts.days.start!, parts.days.end!),
        ...(parts.tail ? fromRaw(parts.tail.start, parts.tail.end) : []),
      ]
    : fromRaw(range.start, range.end);
}

/** The whole hours inside [start, end), or null when there are none. */
function wholeHours(start: string, end: string): { start: string; end: string } | null {
  const first = Math.ceil(Date.parse(start) / 3_600_000) * 3_600_000;
  const last = Math.floor(Date.parse(end) / 3_600_000) * 3_600_000;
  return first < last ? { start: new Date(first).toISOString(), end: new Date(last).toISOString() } : null;
}
