/**
 * The SQLite side of the leaderboard fast path (the algorithm is query/leaderboard.ts):
 * a day's costliest users or threads are the first rows of the (day, cost desc) index of
 * usage_user_days / usage_thread_days, a longer span's are those of its window (see
 * span-windows.ts), and a candidate's exact sums over a range come from leader-totals.ts.
 */
import type Database from "better-sqlite3";
import type { AggregateRow, DaySpan, LeaderCost, LeaderEntity, LeaderKey, SpanLeader, UsageTotals } from "../types.js";
import { mergeRows } from "./aggregate-sql.js";
import { ENTITIES, candidateSums } from "./leader-totals.js";
import type { SpanWindows } from "./span-windows.js";

export class SqliteLeaders {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly statement = (sql: string): Database.Statement => {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  };

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
    const rows = candidateSums(this.statement, this.windows, entity, keys, range, "totals") as unknown as Array<UsageTotals & LeaderKey>;
    const groupBy = ENTITIES[entity].columns.map((c) => c.field);
    return mergeRows(
      rows.map(({ user, thread, ...totals }): AggregateRow => ({ ...totals, key: entity === "user" ? { user } : { thread: thread!, user } })),
      groupBy,
    );
  }

  leaderCosts(entity: LeaderEntity, keys: LeaderKey[], range: { start: string; end: string }): LeaderCost[] {
    if (keys.length === 0) return [];
    const byKey = new Map<string, LeaderCost>();
    for (const row of candidateSums(this.statement, this.windows, entity, keys, range, "cost")) {
      const key = entity === "user" ? row.user : `${row.thread}\u0000${row.user}`;
      const seen = byKey.get(key);
      if (seen) seen.costNanos += row.costNanos;
      else byKey.set(key, entity === "user" ? { user: row.user, costNanos: row.costNanos } : { thread: row.thread!, user: row.user, costNanos: row.costNanos });
    }
    return [...byKey.values()];
  }
}

function isOneDay(span: DaySpan): boolean {
  return Date.parse(span.end) - Date.parse(span.start) === 86_400_000;
}
