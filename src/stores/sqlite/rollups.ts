/**
 * The SQLite rollups and the SQL that keeps them equal to the raw records.
 *
 * Global rollups (per hour and per UTC day, by provider, model, agent and operation)
 * hold every record. Per-user rollups hold only users with at least
 * `threshold` records ("heavy" users): for everyone else a per-user question reads
 * their few raw records through the (user_id, ts) index, which is as fast, and ingest
 * does not pay a random-key rollup insert for every record of a sparse user.
 *
 * All of it runs inside the append transaction: rollups can never disagree with the
 * records, even with several processes writing one file.
 */
import type Database from "better-sqlite3";

export interface RollupTable {
  table: string;
  bucket: "hour" | "day";
  /** The bucket computed from a raw record. */
  bucketExpr: string;
  perUser: boolean;
}

export const ROLLUP_TABLES: readonly RollupTable[] = [
  { table: "usage_rollup_hourly", bucket: "hour", bucketExpr: "substr(timestamp, 1, 13)", perUser: true },
  { table: "usage_rollup_daily", bucket: "day", bucketExpr: "day", perUser: true },
  { table: "usage_global_hourly", bucket: "hour", bucketExpr: "substr(timestamp, 1, 13)", perUser: false },
  { table: "usage_global_daily", bucket: "day", bucketExpr: "day", perUser: false },
];

/** A batch's new rows are found by rowid range alone (see foldSql). */
const NEW_ROWS = "usage_records NOT INDEXED";

/** Users that have per-user rollups. */
export const HEAVY_USERS = "(SELECT user_id FROM usage_user_counts WHERE heavy = 1)";

/** Records a user needs before per-user rollups pay for themselves. @see SqliteUsageStoreOptions */
export const DEFAULT_ROLLUP_THRESHOLD = 500;

function keyColumns(r: RollupTable): string {
  return `${r.perUser ? "user_id, " : ""}${r.bucket}, provider, model, agent_name, operation_type`;
}

/**
 * Adds the sums of the records matching `where` to a rollup table (an upsert after a
 * grouped SELECT). `source` is `usage_records NOT INDEXED` for a batch's new rows: left
 * to itself, the planner walks a heavy user's whole (user_id, ts) index to find them.
 */
export function foldSql(r: RollupTable, where: string, source = "usage_records"): string {
  const groups = `${r.perUser ? "user_id, " : ""}${r.bucketExpr}, provider, model, COALESCE(agent_name, ''), operation_type`;
  return `INSERT INTO ${r.table}
    SELECT ${groups}, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(total_tokens), SUM(cache_read_tokens),
      SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(total_cost_nanos), SUM(error), SUM(1 - priced),
      SUM(estimated), SUM(cached), MIN(timestamp), MAX(timestamp)
    FROM ${source} WHERE ${where}${r.perUser ? ` AND user_id IN ${HEAVY_USERS}` : ""}
    GROUP BY ${groups}
    ON CONFLICT (${keyColumns(r)}) DO UPDATE SET
      requests = requests + excluded.requests,
      input_tokens = input_tokens + excluded.input_tokens,
      output_tokens = output_tokens + excluded.output_tokens,
      total_tokens = total_tokens + excluded.total_tokens,
      cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
      cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
      reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
      cost_nanos = cost_nanos + excluded.cost_nanos,
      errors = errors + excluded.errors,
      unpriced = unpriced + excluded.unpriced,
      estimated = estimated + excluded.estimated,
      cached = cached + excluded.cached,
      first_seen = min(first_seen, excluded.first_seen),
      last_seen = max(last_seen, excluded.last_seen)`;
}

/** The statements an append runs after inserting its records (rows past `@before`). */
export class RollupMaintainer {
  private readonly folds: Database.Statement[];
  private readonly count: Database.Statement;
  private readonly newlyHeavy: Database.Statement;
  private readonly markHeavy: Database.Statement;
  private readonly backfills: Database.Statement[];

  constructor(
    private readonly db: Database.Database,
    private readonly threshold: number,
  ) {
    // Per-user folds see only users already heavy before this batch: a user who becomes
    // heavy with it is backfilled from all of their records below, this batch included.
    this.folds = ROLLUP_TABLES.map((r) => db.prepare(foldSql(r, "rowid > @before", NEW_ROWS)));
    this.count = db.prepare(
      `INSERT INTO usage_user_counts (user_id, records, heavy)
         SELECT user_id, COUNT(*), 0 FROM ${NEW_ROWS} WHERE rowid > @before GROUP BY user_id
       ON CONFLICT (user_id) DO UPDATE SET records = records + excluded.records`,
    );
    this.newlyHeavy = db
      .prepare(
        `SELECT user_id FROM usage_user_counts WHERE heavy = 0 AND records >= @threshold
           AND user_id IN (SELECT user_id FROM ${NEW_ROWS} WHERE rowid > @before)`,
      )
      .pluck();
    this.markHeavy = db.prepare("UPDATE usage_user_counts SET heavy = 1 WHERE user_id = ?");
    this.backfills = ROLLUP_TABLES.filter((r) => r.perUser).map((r) => db.prepare(foldSql(r, "user_id = @user")));
  }

  /** Folds the rows inserted after rowid `before` into every rollup. */
  afterInsert(before: number): void {
    for (const fold of this.folds) fold.run({ before });
    this.count.run({ before });
    for (const user of this.newlyHeavy.all({ before, threshold: this.threshold }) as string[]) {
      this.markHeavy.run(user);
      for (const backfill of this.backfills) backfill.run({ user });
    }
  }

  /** Recomputes every rollup and count from the raw records. */
  rebuild(): void {
    for (const r of ROLLUP_TABLES) this.db.exec(`DELETE FROM ${r.table}`);
    this.db.exec("DELETE FROM usage_user_counts");
    this.db
      .prepare(
        `INSERT INTO usage_user_counts SELECT user_id, COUNT(*), COUNT(*) >= ? FROM usage_records GROUP BY user_id`,
      )
      .run(this.threshold);
    for (const r of ROLLUP_TABLES) this.db.prepare(foldSql(r, "1 = 1")).run();
  }

  /**
   * After raw records before `before` were deleted: every rollup bucket up to the one
   * `before` falls in is recomputed from the records that remain (with a user filter,
   * only that user's per-user rows, but every global bucket up to the cut).
   */
  afterPrune(before: string, userId: string | undefined): void {
    const hourEnd = Math.floor(Date.parse(before) / 3_600_000) * 3_600_000 + 3_600_000;
    const dayEnd = Math.floor(Date.parse(before) / 86_400_000) * 86_400_000 + 86_400_000;
    for (const r of ROLLUP_TABLES) {
      const cut = r.bucket === "hour" ? before.slice(0, 13) : before.slice(0, 10);
      const onlyUser = r.perUser && userId !== undefined;
      const user = onlyUser ? { userId } : {};
      this.db.prepare(`DELETE FROM ${r.table} WHERE ${r.bucket} <= @cut${onlyUser ? " AND user_id = @userId" : ""}`).run({ cut, ...user });
      const where = `ts < @end${onlyUser ? " AND user_id = @userId" : ""}`;
      this.db.prepare(foldSql(r, where)).run({ end: r.bucket === "hour" ? hourEnd : dayEnd, ...user });
    }
    this.db
      .prepare(
        `UPDATE usage_user_counts SET records = (SELECT COUNT(*) FROM usage_records r WHERE r.user_id = usage_user_counts.user_id)
         ${userId === undefined ? "" : "WHERE user_id = @userId"}`,
      )
      .run(userId === undefined ? {} : { userId });
  }

  isHeavy(userId: string): boolean {
    return this.db.prepare("SELECT heavy FROM usage_user_counts WHERE user_id = ?").pluck().get(userId) === 1;
  }
}
