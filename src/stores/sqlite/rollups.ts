/**
 * The SQLite rollups and the SQL that keeps them equal to the raw records.
 *
 * Global rollups (per hour and per UTC day, by provider, model, agent and operation)
 * hold every record. Per-user rollups hold only users with at least
 * `threshold` records ("heavy" users): for everyone else a per-user question reads
 * their few raw records through the (user_id, ts) index, which is as fast, and ingest
 * does not pay a random-key rollup insert for every record of a sparse user.
 *
 * Leaderboard tables hold every user's and every thread's sums per UTC day (no
 * breakdown), so a top-N reads a few index rows per day (see leaders.ts), and the
 * leaderboard windows (span-windows.ts) follow every write here too.
 *
 * All of it runs inside the append transaction: rollups can never disagree with the
 * records, even with several processes writing one file.
 */
import type Database from "better-sqlite3";
import { RAW_SUMS } from "./schema.js";
import { SpanWindows } from "./span-windows.js";

export interface RollupTable {
  table: string;
  bucket: "hour" | "day";
  /** The bucket computed from a raw record. */
  bucketExpr: string;
  /** Key columns before the bucket: whose sums these are (none for application-wide tables). */
  owner: Array<"user_id" | "thread_id">;
  /** Whether the key goes on with provider, model, agent and operation. */
  breakdown: boolean;
  /** Rows only for heavy users (per-user rollups); the leaderboard tables hold everyone. */
  heavyOnly: boolean;
}

const table = (t: string, bucket: "hour" | "day", owner: RollupTable["owner"], breakdown: boolean, heavyOnly = false): RollupTable => ({
  table: t,
  bucket,
  bucketExpr: bucket === "hour" ? "substr(timestamp, 1, 13)" : "day",
  owner,
  breakdown,
  heavyOnly,
});

export const ROLLUP_TABLES: readonly RollupTable[] = [
  table("usage_rollup_hourly", "hour", ["user_id"], true, true),
  table("usage_rollup_daily", "day", ["user_id"], true, true),
  table("usage_global_hourly", "hour", [], true),
  table("usage_global_daily", "day", [], true),
  // Leaderboards: every user's and every thread's sums per UTC day (see leaders.ts).
  table("usage_user_days", "day", ["user_id"], false),
  table("usage_thread_days", "day", ["thread_id", "user_id"], false),
];

/** A batch's new rows are found by rowid range alone (see foldSql). */
const NEW_ROWS = "usage_records NOT INDEXED";

/** Users that have per-user rollups. */
export const HEAVY_USERS = "(SELECT user_id FROM usage_user_counts WHERE heavy = 1)";

/** Records a user needs before per-user rollups pay for themselves. @see SqliteUsageStoreOptions */
export const DEFAULT_ROLLUP_THRESHOLD = 500;

const BREAKDOWN = ["provider", "model", "agent_name", "operation_type"];

function keyColumns(r: RollupTable): string {
  return [...r.owner, r.bucket, ...(r.breakdown ? BREAKDOWN : [])].join(", ");
}

/**
 * Adds the sums of the records matching `where` to a rollup table (an upsert after a
 * grouped SELECT). `source` is `usage_records NOT INDEXED` for a batch's new rows: left
 * to itself, the planner walks a heavy user's whole (user_id, ts) index to find them.
 */
export function foldSql(r: RollupTable, where: string, source = "usage_records"): string {
  const groups = [...r.owner, r.bucketExpr, ...(r.breakdown ? ["provider", "model", "COALESCE(agent_name, '')", "operation_type"] : [])].join(", ");
  const filters = [where, ...(r.heavyOnly ? [`user_id IN ${HEAVY_USERS}`] : []), ...(r.owner.includes("thread_id") ? ["thread_id IS NOT NULL"] : [])];
  return `INSERT INTO ${r.table}
    SELECT ${groups}, ${RAW_SUMS}
    FROM ${source} WHERE ${filters.join(" AND ")}
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

/** The stored record a re-pricing changes: where its share of every rollup sits. */
export interface PricedRow {
  user_id: string;
  thread_id: string | null;
  hour: string;
  day: string;
  provider: string;
  model: string;
  agent_name: string | null;
  operation_type: string;
}

/**
 * Moves one record's cost (and priced flag) in every rollup it counts in, and in the
 * leaderboard windows covering its day. Rows that do not exist (a light user's per-user
 * rollups, the thread table for a record without a thread) match nothing.
 */
export function costAdjusters(db: Database.Database, windows: SpanWindows): (old: PricedRow, costDelta: number, unpricedDelta: number) => void {
  const adjusts = ROLLUP_TABLES.map((r) => {
    const match = [...r.owner, r.bucket, ...(r.breakdown ? BREAKDOWN : [])].map((c) => `${c} = @${c === r.bucket ? "bucket" : c}`);
    return {
      r,
      statement: db.prepare(
        `UPDATE ${r.table} SET cost_nanos = cost_nanos + @costDelta, unpriced = unpriced + @unpricedDelta WHERE ${match.join(" AND ")}`,
      ),
    };
  });
  return (old, costDelta, unpricedDelta) => {
    for (const { r, statement } of adjusts) {
      const params: Record<string, unknown> = { bucket: r.bucket === "hour" ? old.hour : old.day, costDelta, unpricedDelta };
      for (const c of r.owner) params[c] = old[c];
      if (r.breakdown) Object.assign(params, { provider: old.provider, model: old.model, agent_name: old.agent_name ?? "", operation_type: old.operation_type });
      statement.run(params);
    }
    windows.adjustCost(old, costDelta);
  };
}

/** The statements an append runs after inserting its records (rows past `@before`). */
export class RollupMaintainer {
  private readonly folds: Database.Statement[];
  private readonly count: Database.Statement;
  private readonly newlyHeavy: Database.Statement;
  private readonly markHeavy: Database.Statement;
  private readonly backfills: Database.Statement[];
  /** Leaderboard windows, kept exact by the same writes. */
  readonly windows: SpanWindows;

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
    this.backfills = ROLLUP_TABLES.filter((r) => r.heavyOnly).map((r) => db.prepare(foldSql(r, "user_id = @user")));
    this.windows = new SpanWindows(db);
  }

  /** Folds the rows inserted after rowid `before` into every rollup. */
  afterInsert(before: number): void {
    for (const fold of this.folds) fold.run({ before });
    this.windows.afterInsert(before);
    this.count.run({ before });
    for (const user of this.newlyHeavy.all({ before, threshold: this.threshold }) as string[]) {
      this.markHeavy.run(user);
      for (const backfill of this.backfills) backfill.run({ user });
    }
  }

  /** Recomputes every rollup and count from the raw records. */
  rebuild(): void {
    for (const r of ROLLUP_TABLES) this.db.exec(`DELETE FROM ${r.table}`);
    this.windows.dropThrough();
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
    this.windows.dropThrough(before.slice(0, 10));
    for (const r of ROLLUP_TABLES) {
      const cut = r.bucket === "hour" ? before.slice(0, 13) : before.slice(0, 10);
      const onlyUser = r.owner.includes("user_id") && userId !== undefined;
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
