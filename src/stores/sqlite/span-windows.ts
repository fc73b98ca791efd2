/**
 * Leaderboard windows: every user's (or thread's) cost over one span of whole UTC days,
 * indexed by cost, so the top of "the last 30 days" is the first rows of an index range.
 *
 * A window is built the first time a leaderboard asks for its span (once a day for a
 * rolling range, since a range's whole days change at midnight): from a window already
 * kept whose days differ by few (yesterday's: a copy, plus the day gained, minus the day
 * lost), else from the per-day tables (one grouped read of the span's entity-days, which
 * grows with the records), and kept exact afterwards by every write in
 * the same transaction: appends fold their records into the windows that cover their day
 * (live traffic is for today, which no window covers yet, so that costs nothing),
 * re-pricing moves the cost, pruning and rebuilding drop the windows they would change.
 * At most `MAX_WINDOWS` per entity are kept, the oldest dropped first.
 */
import type Database from "better-sqlite3";
import { StoreError } from "../../errors.js";
import type { DaySpan, LeaderEntity, SpanLeader } from "../types.js";

const MAX_WINDOWS = 4;

const SOURCE: Record<LeaderEntity, { table: string; thread: string }> = {
  user: { table: "usage_user_days", thread: "''" },
  thread: { table: "usage_thread_days", thread: "thread_id" },
};

export class SpanWindows {
  private readonly exists: Database.Statement;
  private readonly top: Database.Statement;
  private readonly builds: Record<LeaderEntity, Database.Statement>;
  private readonly register: Database.Statement;
  private readonly oldest: Database.Statement;
  private readonly covering: Database.Statement;
  private readonly adjust: Database.Statement;
  private readonly fold: Database.Statement;
  private readonly any: Database.Statement;
  private readonly all: Database.Statement;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    this.exists = db.prepare("SELECT 1 FROM usage_leader_spans WHERE entity = ? AND first_day = ? AND end_day = ?").pluck();
    this.top = db.prepare(
      `SELECT thread_id AS thread, user_id AS user, cost_nanos AS costNanos FROM usage_leader_span_costs
       WHERE entity = ? AND first_day = ? AND end_day = ? ORDER BY cost_nanos DESC LIMIT ? OFFSET ?`,
    );
    const build = (entity: LeaderEntity) =>
      db.prepare(
        `INSERT INTO usage_leader_span_costs
         SELECT '${entity}', @start, @end, ${SOURCE[entity].thread}, user_id, SUM(cost_nanos) FROM ${SOURCE[entity].table}
         WHERE day >= @start AND day < @end GROUP BY ${SOURCE[entity].thread}, user_id`,
      );
    this.builds = { user: build("user"), thread: build("thread") };
    this.register = db.prepare("INSERT INTO usage_leader_spans VALUES (?, ?, ?, ?)");
    this.oldest = db.prepare(
      `SELECT first_day AS start, end_day AS end FROM usage_leader_spans WHERE entity = ? ORDER BY built_at DESC LIMIT -1 OFFSET ${MAX_WINDOWS}`,
    );
    this.covering = db.prepare("SELECT entity, first_day, end_day FROM usage_leader_spans WHERE first_day <= @day AND end_day > @day");
    this.adjust = db.prepare(
      `UPDATE usage_leader_span_costs SET cost_nanos = cost_nanos + @delta
       WHERE entity = @entity AND first_day = @first_day AND end_day = @end_day AND thread_id = @thread AND user_id = @user`,
    );
    // The windows are few (at most 2 × MAX_WINDOWS): each is matched against the batch's new rows.
    this.fold = db.prepare(
      `INSERT INTO usage_leader_span_costs
       SELECT s.entity, s.first_day, s.end_day, CASE s.entity WHEN 'thread' THEN r.thread_id ELSE '' END, r.user_id, SUM(r.total_cost_nanos)
       FROM usage_leader_spans s CROSS JOIN usage_records r NOT INDEXED ON r.rowid > @before AND r.day >= s.first_day AND r.day < s.end_day
       WHERE s.entity = 'user' OR r.thread_id IS NOT NULL
       GROUP BY 1, 2, 3, 4, 5
       ON CONFLICT DO UPDATE SET cost_nanos = cost_nanos + excluded.cost_nanos`,
    );
    this.any = db.prepare("SELECT EXISTS (SELECT 1 FROM usage_leader_spans)").pluck();
    this.all = db.prepare("SELECT first_day AS start, end_day AS end FROM usage_leader_spans WHERE entity = ?");
  }

  /** Builds a span's window unless it exists (a write transaction: not inside a read one). */
  ensure(entity: LeaderEntity, span: DaySpan): void {
    if (!this.exists.get(entity, span.start, span.end)) this.db.transaction(() => this.build(entity, span)).immediate();
  }

  /** Whether a span's window exists (inside a read transaction: it stays for that transaction). */
  has(entity: LeaderEntity, span: DaySpan): boolean {
    return this.exists.get(entity, span.start, span.end) !== undefined;
  }

  /** Ranks `offset` .. `offset + limit - 1` of a span's window (`ensure` first); none when it was dropped meanwhile. */
  read(entity: LeaderEntity, span: DaySpan, offset: number, limit: number): Array<Omit<SpanLeader, "span">> {
    if (!this.exists.get(entity, span.start, span.end)) {
      throw new StoreError(`the leaderboard window ${span.start}..${span.end} was dropped while it was read; ask again`);
    }
    const rows = this.top.all(entity, span.start, span.end, limit, offset) as Array<{ thread: string; user: string; costNanos: number }>;
    return rows.map((r) => (entity === "user" ? { user: r.user, costNanos: r.costNanos } : r));
  }

  private build(entity: LeaderEntity, span: DaySpan): void {
    if (this.exists.get(entity, span.start, span.end)) return; // another process built it meanwhile
    const base = this.nearest(entity, span);
    if (base) this.derive(entity, span, base);
    else this.builds[entity].run(span);
    this.register.run(entity, span.start, span.end, new Date().toISOString());
    for (const old of this.oldest.all(entity) as DaySpan[]) this.drop(entity, old);
  }

  /**
   * The existing window from which `span` is cheapest to derive: the one differing from it
   * by the fewest days, when those are fewer than half the span's (yesterday's "last 30
   * days" differs from today's by 2). Null when building from the day tables is cheaper.
   */
  private nearest(entity: LeaderEntity, span: DaySpan): (DaySpan & { days: string[] }) | null {
    const want = new Set(daysOf(span));
    let best: (DaySpan & { days: string[] }) | null = null;
    for (const w of this.all.all(entity) as DaySpan[]) {
      const have = daysOf(w);
      const changed = [...have.filter((d) => !want.has(d)), ...[...want].filter((d) => !have.includes(d))];
      if (2 * changed.length < want.size && (!best || changed.length < best.days.length)) best = { ...w, days: changed };
    }
    return best;
  }

  /**
   * Builds `span`'s window from `base`'s: a copy, plus the days only `span` covers, minus
   * those only `base` covers (exact: `base` is kept exact by every write, and this runs in
   * the same write transaction as its check). Entities left at cost 0 with no record in the
   * span (they were only on a day dropped) are removed, so the window holds what building
   * it from the day tables would.
   */
  private derive(entity: LeaderEntity, span: DaySpan, base: DaySpan & { days: string[] }): void {
    const { table, thread } = SOURCE[entity];
    this.statement(
      `INSERT INTO usage_leader_span_costs SELECT entity, @start, @end, thread_id, user_id, cost_nanos FROM usage_leader_span_costs
       WHERE entity = @entity AND first_day = @baseStart AND end_day = @baseEnd`,
    ).run({ entity, ...span, baseStart: base.start, baseEnd: base.end });
    this.statement(
      `INSERT INTO usage_leader_span_costs
       SELECT @entity, @start, @end, ${thread}, user_id, SUM(CASE WHEN day >= @start AND day < @end THEN cost_nanos ELSE -cost_nanos END)
       FROM ${table} WHERE day IN (SELECT value FROM json_each(@days)) GROUP BY ${thread}, user_id
       ON CONFLICT DO UPDATE SET cost_nanos = cost_nanos + excluded.cost_nanos`,
    ).run({ entity, ...span, days: JSON.stringify(base.days) });
    this.statement(
      `DELETE FROM usage_leader_span_costs AS w WHERE entity = @entity AND first_day = @start AND end_day = @end AND cost_nanos = 0
       AND NOT EXISTS (SELECT 1 FROM usage_records r WHERE ${entity === "thread" ? "r.thread_id = w.thread_id AND " : ""}r.user_id = w.user_id
       AND r.ts >= @startMs AND r.ts < @endMs)`,
    ).run({ entity, ...span, startMs: Date.parse(span.start), endMs: Date.parse(span.end) });
  }

  private statement(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) this.statements.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  private drop(entity: string, span: DaySpan): void {
    this.db.prepare("DELETE FROM usage_leader_span_costs WHERE entity = ? AND first_day = ? AND end_day = ?").run(entity, span.start, span.end);
    this.db.prepare("DELETE FROM usage_leader_spans WHERE entity = ? AND first_day = ? AND end_day = ?").run(entity, span.start, span.end);
  }

  /** Folds the rows inserted after rowid `before` into the windows covering their days. */
  afterInsert(before: number): void {
    if (this.any.get()) this.fold.run({ before });
  }

  /** Moves a re-priced record's cost in the windows covering its day. */
  adjustCost(old: { user_id: string; thread_id: string | null; day: string }, delta: number): void {
    if (delta === 0) return;
    for (const w of this.covering.all({ day: old.day }) as Array<{ entity: string; first_day: string; end_day: string }>) {
      if (w.entity === "thread" && old.thread_id === null) continue;
      this.adjust.run({ ...w, delta, thread: w.entity === "thread" ? old.thread_id : "", user: old.user_id });
    }
  }

  /** Drops the windows that include days up to `day` (records there were pruned); all with no day. */
  dropThrough(day?: string): void {
    const spans = this.db
      .prepare(`SELECT entity, first_day AS start, end_day AS end FROM usage_leader_spans${day === undefined ? "" : " WHERE first_day <= ?"}`)
      .all(...(day === undefined ? [] : [day])) as Array<DaySpan & { entity: string }>;
    for (const s of spans) this.drop(s.entity, s);
  }
}

/** The days of a span, as `YYYY-MM-DD`. */
export function daysOf(span: DaySpan): string[] {
  const days: string[] = [];
  for (let t = Date.parse(span.start); t < Date.parse(span.end); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}
