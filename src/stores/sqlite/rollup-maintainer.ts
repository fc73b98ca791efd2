/**
 * What an append does to the rollups after inserting its records: the per-user counts
 * (and turning users heavy, with a backfill), the sums of the batch folded into every
 * rollup and leaderboard table (summed in JavaScript when that is exact and cheaper, see
 * batch-fold.ts, else by SQLite's grouped folds), and the leaderboard windows. Also the
 * rebuild and the repair after a prune. All of it runs inside the append's transaction.
 */
import type Database from "better-sqlite3";
import { TableFold, batchCells, batchUsers, groupValues } from "./batch-fold.js";
import { APP_WIDE, FEW_USERS, NEW_ROWS, PER_ENTITY, ROLLUP_TABLES, SMALL_BATCH, foldSql, upsertSql, type RollupTable } from "./rollups.js";
import { COL, type RecordValues } from "./rows.js";
import { SpanWindows } from "./span-windows.js";

/** The statements an append runs after inserting its records (rows past `@before`). */
export class RollupMaintainer {
  private readonly folds: Database.Statement[];
  private readonly upserts: Database.Statement[];
  private readonly count: Database.Statement;
  private readonly countUser: Database.Statement;
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
    this.upserts = ROLLUP_TABLES.map((r) => db.prepare(upsertSql(r)));
    this.count = db.prepare(
      `INSERT INTO usage_user_counts (user_id, records, heavy)
         SELECT user_id, COUNT(*), 0 FROM ${NEW_ROWS} WHERE rowid > @before GROUP BY user_id
       ON CONFLICT (user_id) DO UPDATE SET records = records + excluded.records`,
    );
    // The upsert leaves `heavy` as it was: what it returns says whether the user was heavy before this batch.
    this.countUser = db
      .prepare(
        `INSERT INTO usage_user_counts (user_id, records, heavy) VALUES (?, ?, 0)
         ON CONFLICT (user_id) DO UPDATE SET records = records + excluded.records RETURNING records, heavy`,
      )
      .raw(true);
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

  /**
   * Folds the rows inserted after rowid `before` into every rollup. `rows` are those rows'
   * values, when the caller has them: the application-wide tables (a few groups per batch
   * whatever the batch) are then summed here, one upsert per group, and when the batch has
   * several records per user, or is small, every table is. Otherwise SQLite groups the new
   * rows: in a large batch with a group per record or so, one set-based statement beats a
   * call per group.
   */
  afterInsert(before: number, rows?: readonly RecordValues[]): void {
    const users = rows ? batchUsers(rows) : null;
    if (!rows || !users) {
      this.foldSql(before, ROLLUP_TABLES);
    } else if (users.size * FEW_USERS <= rows.length || rows.length <= SMALL_BATCH) {
      this.foldRows(rows, users);
    } else {
      this.foldSql(before, PER_ENTITY);
      this.upsertGroups(rows, APP_WIDE, () => false);
    }
    this.windows.afterInsert(before);
  }

  /** SQLite's grouped folds of the new rows into `tables`, and the per-user counts. */
  private foldSql(before: number, tables: readonly RollupTable[]): void {
    for (const r of tables) this.folds[ROLLUP_TABLES.indexOf(r)].run({ before });
    this.count.run({ before });
    for (const user of this.newlyHeavy.all({ before, threshold: this.threshold }) as string[]) this.becomeHeavy(user);
  }

  /** Every table from sums made here (see batch-fold.ts). */
  private foldRows(rows: readonly RecordValues[], users: Map<string, number>): void {
    const heavy = new Set<string>();
    const newlyHeavy: string[] = [];
    for (const [user, n] of users) {
      const [records, wasHeavy] = this.countUser.get(user, n) as [number, number];
      if (wasHeavy === 1) heavy.add(user);
      else if (records >= this.threshold) newlyHeavy.push(user);
    }
    // Per-user rollups take only users heavy before this batch; those who turn heavy with it are backfilled.
    this.upsertGroups(rows, ROLLUP_TABLES, (user) => heavy.has(user));
    for (const user of newlyHeavy) this.becomeHeavy(user);
  }

  private upsertGroups(rows: readonly RecordValues[], tables: readonly RollupTable[], isHeavy: (user: string) => boolean): void {
    const folds = tables.map((r) => new TableFold(r));
    const owners = folds.some((t) => t.table.owner.length > 0);
    for (const cell of batchCells(rows, owners).values()) {
      const heavy = isHeavy(cell.row[COL.user_id] as string);
      for (const t of folds) if (heavy || !t.table.heavyOnly) t.add(cell);
    }
    for (const t of folds) {
      const upsert = this.upserts[ROLLUP_TABLES.indexOf(t.table)];
      for (const g of t.groups.values()) upsert.run(groupValues(g));
    }
  }

  /** Per-user rollups from now on: filled from all of the user's records (the batch's included). */
  private becomeHeavy(user: string): void {
    this.markHeavy.run(user);
    for (const backfill of this.backfills) backfill.run({ user });
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
