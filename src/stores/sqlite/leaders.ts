/**
 * The SQLite side of the leaderboard fast path (the algorithm is query/leaderboard.ts):
 * a day's costliest users or threads are the first rows of the (day, cost desc) index of
 * usage_user_days / usage_thread_days, a longer span's are those of its window (see
 * span-windows.ts), and a candidate's exact total over a range is its whole days from
 * the per-day table (one point read per day) plus the partial days at the ends from raw records, through the
 * (user_id, ts) and (thread_id, ts) indexes.
 */
import type Database from "better-sqlite3";
import type { AggregateRow, DaySpan, LeaderEntity, LeaderKey, SpanLeader, UsageTotals } from "../types.js";
import { mergeRows, splitAtDays } from "./aggregate-sql.js";
import { HEAVY_USERS } from "./rollups.js";
import { TOTAL_COLUMNS } from "./schema.js";
import type { SpanWindows } from "./span-windows.js";

interface EntitySql {
  table: string;
  /** Key columns in the day table, and the JSON path of each in a candidate key. */
  columns: Array<{ column: string; field: "user" | "thread" }>;
}

const ENTITIES: Record<LeaderEntity, EntitySql> = {
  user: { table: "usage_user_days", columns: [{ column: "user_id", field: "user" }] },
  thread: {
    table: "usage_thread_days",
    columns: [
      { column: "thread_id", field: "thread" },
      { column: "user_id", field: "user" },
    ],
  },
};

type TotalsRow = UsageTotals & { user: string; thread?: string };

export class SqliteLeaders {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly windows: SpanWindows,
  ) {}

  /** Builds the windows of the multi-day spans that have none yet (each in its own write transaction). */
  prepare(entity: LeaderEntity, spans: DaySpan[]): void {
    for (const span of spans) if (!isOneDay(span)) this.windows.ensure(entity, span);
  }

  /** Ranked rows of each span (see `UsageStore.leaders`); `prepare` first. */
  leaders(entity: LeaderEntity, spans: DaySpan[], offset: number, limit: number): SpanLeader[] {
    const e = ENTITIES[entity];
    const select = e.columns.map((c) => `${c.column} AS ${c.field}`).join(", ");
    const day = this.statement(
      `SELECT ${select}, cost_nanos AS costNanos FROM ${e.table} WHERE day = ? ORDER BY cost_nanos DESC LIMIT ? OFFSET ?`,
    );
    const out: SpanLeader[] = [];
    spans.forEach((span, i) => {
      const rows = isOneDay(span)
        ? (day.all(span.start, limit, offset) as Array<Omit<SpanLeader, "span">>)
        : this.windows.read(entity, span, offset, limit);
      for (const row of rows) out.push({ ...row, span: i });
    });
    return out;
  }

  leaderTotals(entity: LeaderEntity, keys: LeaderKey[], range: { start: string; end: string }): AggregateRow[] {
    if (keys.length === 0) return [];
    const e = ENTITIES[entity];
    // Candidates travel as one JSON array bound to one parameter: no statement per key.
    // CROSS JOIN keeps them the outer loop: left free, the planner may drive the join from
    // the heavy-user list instead and walk every heavy user's rollups (measured: seconds at
    // 10M records, where every user is heavy).
    const json = JSON.stringify(keys.map((k) => e.columns.map((c) => k[c.field] ?? null)));
    const join = e.columns.map((c, i) => `t.${c.column} = json_extract(j.value, '$[${i}]')`).join(" AND ");
    const group = e.columns.map((c) => `t.${c.column}`).join(", ");
    const select = e.columns.map((c) => `t.${c.column} AS ${c.field}`).join(", ");
    // The day tables are keyed (day, entity): appends, in time order, land in the newest
    // days' pages instead of at random keys. A candidate's whole days are then one point
    // read per (day, candidate), the days as a second JSON array in the outer loop.
    const fromDays = (start: string, end: string) =>
      this.statement(
        `SELECT ${select}, ${TOTAL_COLUMNS.rollup} FROM json_each(@days) d CROSS JOIN json_each(@json) j
         CROSS JOIN ${e.table} t ON t.day = d.value AND ${join} GROUP BY ${group}`,
      ).all({ json, days: JSON.stringify(daysBetween(start, end)) }) as TotalsRow[];
    const raw = (start: string, end: string, users = "") =>
      this.statement(
        `SELECT ${select}, ${TOTAL_COLUMNS.raw} FROM json_each(@json) j CROSS JOIN usage_records t ON ${join}
         WHERE t.ts >= @start AND t.ts < @end ${users} GROUP BY ${group}`,
      ).all({ json, start: Date.parse(start), end: Date.parse(end) }) as TotalsRow[];
    // A partial day: heavy users' whole hours from their hourly rollups (a busy user's day
    // is thousands of records), everything else from raw records.
    const fromRaw = (start: string, end: string): TotalsRow[] => {
      const hours = entity === "user" ? wholeHours(start, end) : null;
      if (!hours) return raw(start, end);
      const heavyHours = this.statement(
        `SELECT ${select}, ${TOTAL_COLUMNS.rollup} FROM json_each(@json) j CROSS JOIN usage_rollup_hourly t ON ${join}
         WHERE t.hour >= @start AND t.hour < @end AND t.user_id IN ${HEAVY_USERS} GROUP BY ${group}`,
      ).all({ json, start: hours.start.slice(0, 13), end: hours.end.slice(0, 13) }) as TotalsRow[];
      return [
        ...heavyHours,
        ...raw(hours.start, hours.end, `AND t.user_id NOT IN ${HEAVY_USERS}`),
        ...(start < hours.start ? raw(start, hours.start) : []),
        ...(hours.end < end ? raw(hours.end, end) : []),
      ];
    };

    const parts = splitAtDays(range.start, range.end);
    const rows = parts.days
      ? [
          ...(parts.head ? fromRaw(parts.head.start, parts.head.end) : []),
          ...fromDays(parts.days.start!, parts.days.end!),
          ...(parts.tail ? fromRaw(parts.tail.start, parts.tail.end) : []),
        ]
      : fromRaw(range.start, range.end);
    const groupBy = e.columns.map((c) => c.field);
    return mergeRows(
      rows.map(({ user, thread, ...totals }): AggregateRow => ({ ...totals, key: entity === "user" ? { user } : { thread: thread!, user } })),
      groupBy,
    );
  }

  private statement(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }
}

/** The UTC days from `start` (inclusive) to `end` (exclusive), as `YYYY-MM-DD`. */
function daysBetween(start: string, end: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(start.slice(0, 10)); t < Date.parse(end.slice(0, 10)); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

function isOneDay(span: DaySpan): boolean {
  return Date.parse(span.end) - Date.parse(span.start) === 86_400_000;
}

/** The whole hours inside [start, end), or null when there are none. */
function wholeHours(start: string, end: string): { start: string; end: string } | null {
  const first = Math.ceil(Date.parse(start) / 3_600_000) * 3_600_000;
  const last = Math.floor(Date.parse(end) / 3_600_000) * 3_600_000;
  return first < last ? { start: new Date(first).toISOString(), end: new Date(last).toISOString() } : null;
}
