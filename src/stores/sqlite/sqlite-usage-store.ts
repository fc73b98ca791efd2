/**
 * The embedded default store: one SQLite file (better-sqlite3, WAL).
 *
 * Every batch is one IMMEDIATE transaction that inserts the records (idempotent by
 * id) and adds the newly inserted ones to the hourly and daily rollups, so rollups
 * and records can never disagree, even with several processes writing the same file.
 * better-sqlite3 is synchronous: the writer calls `append` off the agent's path.
 * Creating the store does no I/O; opening, failure classification and migrations are
 * in sqlite-connection.ts, noticing a replaced file in sqlite-file.ts.
 */
import type Database from "better-sqlite3";
import { ClosedError, StoreError, ValidationError } from "../../errors.js";
import type { UsageRecord } from "../../record/types.js";
import type {
  AggregateQuery,
  AggregateRow,
  AppendResult,
  BudgetCounterState,
  BudgetCounterUpdate,
  CostUpdate,
  DaySpan,
  LeaderCost,
  LeaderEntity,
  LeaderKey,
  PageRequest,
  RecordFilter,
  SpanLeader,
  StoreCapabilities,
  UsageStore,
} from "../types.js";
import { AggregatePlanner } from "./aggregate-plan.js";
import { whereClause } from "./aggregate-sql.js";
import type { RollupMaintainer } from "./rollup-maintainer.js";
import { DEFAULT_ROLLUP_THRESHOLD } from "./rollups.js";
import { applyCostUpdates } from "./cost-updates.js";
import * as settings from "./settings.js";
import { sqliteFailure } from "./sqlite-connection.js";
import { SqliteFile, type Connection } from "./sqlite-file.js";
import { unpackRows, type PackedRows } from "./packed-rows.js";
import { RECORD_COLUMNS, checkAppendable, rowToRecord, type RecordRow, type RecordValues } from "./rows.js";

export interface SqliteUsageStoreOptions {
  /** Database file, or `:memory:`. */
  path: string;
  /** How long a write waits for another process's lock before failing (the writer then retries). @default 100 */
  busyTimeoutMs?: number;
  /**
   * Records a user needs before per-user rollups are kept for them; below it, their
   * statistics are read from their raw records. @default 500
   */
  rollupThreshold?: number;
}

export class SqliteUsageStore implements UsageStore {
  readonly kind = "sqlite";
  readonly capabilities: StoreCapabilities;
  readonly path: string;
  private readonly file: SqliteFile;
  private current: Connection | null = null;
  private closed = false;

  /** Does no I/O: the file is opened by the first call, and reopened by a later one after a failure. */
  constructor(options: SqliteUsageStoreOptions) {
    this.path = options.path;
    this.capabilities = { rollups: true, multiProcess: options.path !== ":memory:", ttl: false };
    this.file = new SqliteFile(options.path, options.busyTimeoutMs ?? 100, options.rollupThreshold ?? DEFAULT_ROLLUP_THRESHOLD);
  }

  private get db(): Database.Database {
    return this.current!.db;
  }

  private get rollups(): RollupMaintainer {
    return this.current!.rollups;
  }

  /** The connection for this call: opened on first use, reopened when the path names another file. */
  private ready(): void {
    if (this.closed) throw new ClosedError("the SQLite usage store");
    this.current = this.file.connection();
  }

  async append(records: UsageRecord[]): Promise<AppendResult> {
    checkAppendable(records);
    return this.write(records);
  }

  /**
   * `append` for rows already in column order (`recordToValues`, after `checkAppendable`): what
   * the worker-thread store sends, because an array of plain values crosses to the worker for a
   * fraction of what a record object costs to clone and to rebuild there.
   */
  async appendRows(rows: RecordValues[]): Promise<AppendResult> {
    if (!Array.isArray(rows)) throw new ValidationError("rows", "must be an array of record rows");
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== RECORD_COLUMNS) throw new ValidationError(`rows[${i}]`, `must be an array of ${RECORD_COLUMNS} values`);
    });
    return this.write(rows);
  }

  /** `appendRows` for a batch packed by column (`packRows`): what the worker-thread store sends. */
  async appendPacked(packed: PackedRows): Promise<AppendResult> {
    return this.write(unpackRows(packed));
  }

  private write(batch: Array<UsageRecord | RecordValues>): AppendResult {
    this.ready();
    let result: AppendResult;
    try {
      result = batch.length === 0 ? { inserted: 0, duplicates: 0 } : this.current!.appendTx(batch);
      this.file.written();
    } catch (cause) {
      // No counts in the message: an unusable store is reported once per distinct message.
      throw sqliteFailure(this.path, "write to", cause);
    }
    const warnings = this.file.takeNotices();
    return warnings ? { ...result, warnings } : result;
  }

  async list(filter: RecordFilter, page: PageRequest): Promise<UsageRecord[]> {
    this.ready();
    const { where, params } = whereClause(filter);
    if (page.after) {
      where.push("(ts < @afterTs OR (ts = @afterTs AND id < @afterId))");
      params.afterTs = Date.parse(page.after.timestamp);
      params.afterId = page.after.id;
    }
    params.limit = page.limit;
    const rows = this.db
      .prepare(
        `SELECT * FROM usage_records ${where.length ? "WHERE " + where.join(" AND ") : ""}
         ORDER BY ts DESC, id DESC LIMIT @limit`,
      )
      .all(params) as RecordRow[];
    return rows.map(rowToRecord);
  }

  async get(id: string, userId?: string): Promise<UsageRecord | null> {
    this.ready();
    const row = (
      userId === undefined
        ? this.db.prepare("SELECT * FROM usage_records WHERE id = ?").get(id)
        : this.db.prepare("SELECT * FROM usage_records WHERE id = ? AND user_id = ?").get(id, userId)
    ) as RecordRow | undefined;
    return row ? rowToRecord(row) : null;
  }

  async aggregate(query: AggregateQuery): Promise<AggregateRow[]> {
    this.ready();
    // One read transaction: every part of the answer sees the same snapshot, even while
    // another process folds a batch or turns a user into a heavy one.
    return this.readTx(() => new AggregatePlanner({ rollups: this.rollups, statement: (sql) => this.statement(sql) }).plan(query));
  }

  async leaders(entity: LeaderEntity, spans: DaySpan[], offset: number, limit: number): Promise<SpanLeader[]> {
    this.ready();
    // Building a window writes, so it happens before the read transaction; a window that
    // another process dropped in between (prune, eviction) is built again once.
    for (let attempt = 1; ; attempt++) {
      this.current!.leaderboards.prepare(entity, spans);
      try {
        return this.readTx(() => this.current!.leaderboards.leaders(entity, spans, offset, limit));
      } catch (error) {
        if (attempt >= 2 || !(error instanceof StoreError)) throw error;
      }
    }
  }

  async leaderTotals(entity: LeaderEntity, keys: LeaderKey[], range: { start: string; end: string }): Promise<AggregateRow[]> {
    this.ready();
    return this.readTx(() => this.current!.leaderboards.leaderTotals(entity, keys, range));
  }

  async leaderCosts(entity: LeaderEntity, keys: LeaderKey[], range: { start: string; end: string }): Promise<LeaderCost[]> {
    this.ready();
    return this.readTx(() => this.current!.leaderboards.leaderCosts(entity, keys, range));
  }

  private readTx<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn).deferred();
  }

  /** Prepared statements are cached by SQL text: aggregate shapes repeat. */
  private statement(sql: string): Database.Statement {
    const statements = this.current!.statements;
    let st = statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      if (statements.size > 200) statements.clear();
      statements.set(sql, st);
    }
    return st;
  }

  async updateCosts(updates: CostUpdate[]): Promise<number> {
    this.ready();
    return applyCostUpdates(this.db, this.rollups.windows, (sql) => this.statement(sql), updates);
  }

  async prune(before: string, filter: { userId?: string } = {}): Promise<number> {
    this.ready();
    const user = filter.userId === undefined ? "" : " AND user_id = @userId";
    const tx = this.db.transaction(() => {
      const params = { beforeTs: Date.parse(before), ...(filter.userId === undefined ? {} : { userId: filter.userId }) };
      const removed = this.db.prepare(`DELETE FROM usage_records WHERE ts < @beforeTs${user}`).run(params).changes;
      this.rollups.afterPrune(before, filter.userId);
      return removed;
    });
    return tx.immediate();
  }

  async rebuildRollups(): Promise<void> {
    this.ready();
    this.db.transaction(() => this.rollups.rebuild()).immediate();
  }

  async getSetting<T = unknown>(namespace: string, key: string): Promise<T | null> {
    this.ready();
    return settings.get<T>(this.db, namespace, key);
  }

  async putSetting(namespace: string, key: string, value: unknown): Promise<void> {
    this.ready();
    settings.put(this.db, namespace, key, value);
  }

  async deleteSetting(namespace: string, key: string): Promise<boolean> {
    this.ready();
    return settings.remove(this.db, namespace, key);
  }

  async listSettings<T = unknown>(namespace: string): Promise<Array<{ key: string; value: T }>> {
    this.ready();
    return settings.list<T>(this.db, namespace);
  }

  async updateBudgetCounters(updates: BudgetCounterUpdate[]): Promise<BudgetCounterState[]> {
    this.ready();
    try {
      return this.current!.counters.update(updates);
    } catch (cause) {
      throw new StoreError(`SQLite budget counter update failed: ${(cause as Error).message}`, { cause });
    }
  }

  async readBudgetCounters(keys: Array<{ key: string; partition: string }>, now: number): Promise<Array<BudgetCounterState | null>> {
    this.ready();
    return this.current!.counters.read(keys, now);
  }

  async claimOnce(namespace: string, key: string): Promise<boolean> {
    this.ready();
    return settings.claimOnce(this.db, namespace, key);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.current = null;
    this.file.close();
  }

  /**
   * For tools and benchmarks that need SQL the contract does not offer (read-only use); opens the file.
   * @internal Left out of the published declarations: better-sqlite3 ships no types of its own.
   */
  get database(): Database.Database {
    this.ready();
    return this.db;
  }
}

