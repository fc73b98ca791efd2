/**
 * The embedded default store: one SQLite file (better-sqlite3, WAL).
 *
 * Every batch is one IMMEDIATE transaction that inserts the records (idempotent by
 * id) and adds the newly inserted ones to the hourly and daily rollups, so rollups
 * and records can never disagree, even with several processes writing the same file.
 * better-sqlite3 is synchronous: the writer calls `append` off the agent's path.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ClosedError, StoreError, ValidationError } from "../../errors.js";
import type { UsageRecord } from "../../record/types.js";
import type {
  AggregateQuery,
  AggregateRow,
  AppendResult,
  CostUpdate,
  GroupKey,
  PageRequest,
  RecordFilter,
  StoreCapabilities,
  UsageStore,
} from "../types.js";
import { addTotals } from "../types.js";
import { MIGRATIONS, TOTAL_COLUMNS } from "./schema.js";
import { recordToValues, rowToRecord, type RecordRow } from "./rows.js";

export interface SqliteUsageStoreOptions {
  /** Database file, or `:memory:`. */
  path: string;
  /** How long a write waits for another process's lock before failing (the writer then retries). @default 100 */
  busyTimeoutMs?: number;
}

const ROLLUP_KEYS: ReadonlySet<string> = new Set(["user", "provider", "model", "agent", "operation", "hour", "day"]);
const DIMENSION_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const DAY_MS = 86_400_000;

type AggregateTable = "usage_records" | "usage_rollup_hourly" | "usage_rollup_daily";
type WhereBuilder = (filter: RecordFilter) => { where: string[]; params: Record<string, unknown> };

/** How each table answers: its group columns, its sums, and how it filters a time range. */
const SOURCES: Record<AggregateTable, { groups: Record<string, string>; totals: string; where: WhereBuilder }> = {
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
  usage_rollup_hourly: {
    groups: {
      user: "user_id",
      provider: "provider",
      model: "model",
      agent: "NULLIF(agent_name, '')",
      operation: "operation_type",
      hour: "hour",
      day: "substr(hour, 1, 10)",
    },
    totals: TOTAL_COLUMNS.rollup,
    where: (f) => rollupWhere(f, "hour", (iso) => iso.slice(0, 13)),
  },
  usage_rollup_daily: {
    groups: {
      user: "user_id",
      provider: "provider",
      model: "model",
      agent: "NULLIF(agent_name, '')",
      operation: "operation_type",
      day: "day",
    },
    totals: TOTAL_COLUMNS.rollup,
    where: (f) => rollupWhere(f, "day", (iso) => iso.slice(0, 10)),
  },
};

export class SqliteUsageStore implements UsageStore {
  readonly kind = "sqlite";
  readonly capabilities: StoreCapabilities;
  readonly path: string;
  private readonly db: Database.Database;
  private readonly insertRecord: Database.Statement;
  private readonly upsertHourly: Database.Statement;
  private readonly upsertDaily: Database.Statement;
  private readonly appendTx: (records: UsageRecord[]) => AppendResult;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(options: SqliteUsageStoreOptions) {
    this.path = options.path;
    this.capabilities = { rollups: true, multiProcess: options.path !== ":memory:", ttl: false };
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    try {
      this.db = new Database(options.path);
    } catch (cause) {
      throw new StoreError(`cannot open SQLite database at ${options.path}`, { cause });
    }
    // Short: a wait blocks the event loop, and the writer retries a busy store by itself.
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 100}`);
    // 16 KiB pages (only possible before the first table exists): index inserts at random
    // keys split pages a quarter as often; measured at 1.6x the ingest rate of 4 KiB pages.
    this.db.pragma("page_size = 16384");
    if (options.path !== ":memory:") this.db.pragma("journal_mode = WAL");
    // Up to 64 MiB of page cache (the default is 2 MiB): index and rollup inserts land at random
    // keys, and every miss is a read from the OS.
    this.db.pragma("cache_size = -65536");
    // NORMAL is durable across process crashes in WAL mode; only an OS crash can lose the last commits.
    this.db.pragma("synchronous = NORMAL");
    this.migrate();

    // Positional: the values come from recordToValues in the table's column order.
    this.insertRecord = this.db.prepare(`INSERT INTO usage_records VALUES (${"?, ".repeat(35)}?) ON CONFLICT (id) DO NOTHING`);
    this.upsertHourly = this.db.prepare(`${rebuildSql("hourly")} AND rowid > ? ${REBUILD_GROUP.hourly} ${upsertTail("hour")}`);
    this.upsertDaily = this.db.prepare(`${rebuildSql("daily")} AND rowid > ? ${REBUILD_GROUP.daily} ${upsertTail("day")}`);
    const lastRowid = this.db.prepare("SELECT COALESCE(MAX(rowid), 0) FROM usage_records").pluck();
    const appendTx = this.db.transaction((records: UsageRecord[]) => {
      const before = lastRowid.get() as number;
      let inserted = 0;
      for (const record of records) inserted += this.insertRecord.run(recordToValues(record)).changes;
      // The rows this transaction added are exactly those past the old last rowid: SQLite
      // folds them into both rollups in two set-based statements.
      if (inserted > 0) {
        this.upsertHourly.run(before);
        this.upsertDaily.run(before);
      }
      return { inserted, duplicates: records.length - inserted };
    });
    // IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading read locks.
    this.appendTx = (records) => appendTx.immediate(records);
  }

  private migrate(): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  async append(records: UsageRecord[]): Promise<AppendResult> {
    this.assertOpen();
    if (records.length === 0) return { inserted: 0, duplicates: 0 };
    records.forEach((r, i) => {
      if (typeof r.id !== "string" || r.id === "") throw new ValidationError(`records[${i}].id`, "must be a non-empty string");
      if (typeof r.userId !== "string" || r.userId === "") throw new ValidationError(`records[${i}].userId`, "must be a non-empty string");
    });
    try {
      return this.appendTx(records);
    } catch (cause) {
      throw new StoreError(`SQLite append of ${records.length} records failed: ${(cause as Error).message}`, { cause });
    }
  }

  async list(filter: RecordFilter, page: PageRequest): Promise<UsageRecord[]> {
    this.assertOpen();
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
    this.assertOpen();
    const row = (
      userId === undefined
        ? this.db.prepare("SELECT * FROM usage_records WHERE id = ?").get(id)
        : this.db.prepare("SELECT * FROM usage_records WHERE id = ? AND user_id = ?").get(id, userId)
    ) as RecordRow | undefined;
    return row ? rowToRecord(row) : null;
  }

  async aggregate(query: AggregateQuery): Promise<AggregateRow[]> {
    this.assertOpen();
    if (!this.canUseRollups(query)) return this.runAggregate("usage_records", query);
    if (query.groupBy.includes("hour")) return this.runAggregate("usage_rollup_hourly", query);
    // Whole UTC days come from the daily rollup, the hours around them from the hourly one.
    const parts = splitAtDays(query.filter.start, query.filter.end);
    if (parts.days === null) return this.runAggregate("usage_rollup_hourly", query);
    const rows = [
      ...(parts.head ? this.runAggregate("usage_rollup_hourly", withRange(query, parts.head)) : []),
      ...this.runAggregate("usage_rollup_daily", withRange(query, parts.days)),
      ...(parts.tail ? this.runAggregate("usage_rollup_hourly", withRange(query, parts.tail)) : []),
    ];
    return mergeRows(rows, query.groupBy);
  }

  private runAggregate(table: AggregateTable, query: AggregateQuery): AggregateRow[] {
    const source = SOURCES[table];
    const params: Record<string, unknown> = {};
    const selects = query.groupBy.map((key, i) => `${groupExpression(key, source.groups, params, i)} AS g${i}`);
    const { where, params: filterParams } = source.where(query.filter);
    Object.assign(params, filterParams);
    const sql = `SELECT ${[...selects, source.totals].join(", ")} FROM ${table}
      ${where.length ? "WHERE " + where.join(" AND ") : ""}
      ${selects.length ? "GROUP BY " + selects.map((_, i) => `g${i}`).join(", ") : ""}`;
    // Arrays, not objects: thousands of rows materialise noticeably faster.
    const rows = this.statement(sql).raw(true).all(params) as unknown[][];
    const n = query.groupBy.length;
    const out: AggregateRow[] = [];
    for (const row of rows) {
      if (Number(row[n]) === 0) continue;
      const key: Record<string, string | null> = {};
      for (let i = 0; i < n; i++) key[query.groupBy[i]] = (row[i] as string | null) ?? null;
      out.push({
        key,
        requests: Number(row[n]),
        inputTokens: Number(row[n + 1]),
        outputTokens: Number(row[n + 2]),
        totalTokens: Number(row[n + 3]),
        cacheReadTokens: Number(row[n + 4]),
        cacheWriteTokens: Number(row[n + 5]),
        reasoningTokens: Number(row[n + 6]),
        costNanos: Number(row[n + 7]),
        errors: Number(row[n + 8]),
        unpriced: Number(row[n + 9]),
        estimated: Number(row[n + 10]),
        cached: Number(row[n + 11]),
        firstSeen: (row[n + 12] as string | null) ?? null,
        lastSeen: (row[n + 13] as string | null) ?? null,
      });
    }
    return out;
  }

  /** Prepared statements are cached by SQL text: aggregate shapes repeat. */
  private statement(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      if (this.statements.size > 200) this.statements.clear();
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Rollups answer queries whose range is whole hours and whose keys the rollup keeps. */
  private canUseRollups(query: AggregateQuery): boolean {
    const f = query.filter;
    return (
      f.threadId === undefined &&
      isHourAligned(f.start) &&
      isHourAligned(f.end) &&
      query.groupBy.every((k) => ROLLUP_KEYS.has(k))
    );
  }

  async updateCosts(updates: CostUpdate[]): Promise<number> {
    this.assertOpen();
    const read = this.statement(
      `SELECT user_id, substr(timestamp, 1, 13) AS hour, day, provider, model, agent_name, operation_type,
         total_cost_nanos, priced FROM usage_records WHERE id = ? AND user_id = ?`,
    );
    const write = this.statement(
      `UPDATE usage_records SET input_cost_nanos = @inputCostNanos, output_cost_nanos = @outputCostNanos,
        total_cost_nanos = @totalCostNanos, input_cost = @inputCostNanos / 1e9, output_cost = @outputCostNanos / 1e9,
        total_cost = @totalCostNanos / 1e9, priced = @priced, price_source = @priceSource
       WHERE id = @id AND user_id = @userId`,
    );
    const adjust = (table: string, bucket: string) =>
      this.statement(
        `UPDATE ${table} SET cost_nanos = cost_nanos + @costDelta, unpriced = unpriced + @unpricedDelta
         WHERE user_id = @user_id AND ${bucket} = @${bucket} AND provider = @provider AND model = @model
           AND agent_name = @agent AND operation_type = @operation_type`,
      );
    const adjustHourly = adjust("usage_rollup_hourly", "hour");
    const adjustDaily = adjust("usage_rollup_daily", "day");
    const tx = this.db.transaction((list: CostUpdate[]) => {
      let changed = 0;
      for (const u of list) {
        const old = read.get(u.id, u.userId) as
          | { user_id: string; hour: string; day: string; provider: string; model: string; agent_name: string | null;
              operation_type: string; total_cost_nanos: number; priced: number }
          | undefined;
        if (!old) continue;
        const priced = u.priced ? 1 : 0;
        if (old.total_cost_nanos === u.totalCostNanos && old.priced === priced) continue;
        write.run({ ...u, priced });
        const delta = { ...old, agent: old.agent_name ?? "", costDelta: u.totalCostNanos - old.total_cost_nanos, unpricedDelta: old.priced - priced };
        const { day: _d, ...hourly } = delta;
        const { hour: _h, ...daily } = delta;
        adjustHourly.run(hourly);
        adjustDaily.run(daily);
        changed++;
      }
      return changed;
    });
    return tx.immediate(updates);
  }

  async prune(before: string, filter: { userId?: string } = {}): Promise<number> {
    this.assertOpen();
    const user = filter.userId === undefined ? "" : " AND user_id = @userId";
    const params = { beforeTs: Date.parse(before), hour: before.slice(0, 13), day: before.slice(0, 10), userId: filter.userId };
    const tx = this.db.transaction(() => {
      const removed = this.db.prepare(`DELETE FROM usage_records WHERE ts < @beforeTs${user}`).run(params).changes;
      // Rollup buckets wholly before the cut go; the bucket the cut falls in is recomputed from what remains.
      this.db.prepare(`DELETE FROM usage_rollup_hourly WHERE hour <= @hour${user}`).run(params);
      this.db.prepare(`${rebuildSql("hourly")} AND substr(timestamp, 1, 13) = @hour${user} ${REBUILD_GROUP.hourly}`).run(params);
      this.db.prepare(`DELETE FROM usage_rollup_daily WHERE day <= @day${user}`).run(params);
      this.db.prepare(`${rebuildSql("daily")} AND day = @day${user} ${REBUILD_GROUP.daily}`).run(params);
      return removed;
    });
    return tx.immediate();
  }

  async rebuildRollups(): Promise<void> {
    this.assertOpen();
    this.db.transaction(() => {
      this.db.exec("DELETE FROM usage_rollup_hourly; DELETE FROM usage_rollup_daily");
      this.db.prepare(`${rebuildSql("hourly")} ${REBUILD_GROUP.hourly}`).run();
      this.db.prepare(`${rebuildSql("daily")} ${REBUILD_GROUP.daily}`).run();
    }).immediate();
  }

  async getSetting<T = unknown>(namespace: string, key: string): Promise<T | null> {
    const row = this.db.prepare("SELECT value FROM settings WHERE namespace = ? AND key = ?").get(namespace, key) as
      | { value: string }
      | undefined;
    return row ? (JSON.parse(row.value) as T) : null;
  }

  async putSetting(namespace: string, key: string, value: unknown): Promise<void> {
    this.db
      .prepare("INSERT INTO settings VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value")
      .run(namespace, key, JSON.stringify(value));
  }

  async deleteSetting(namespace: string, key: string): Promise<boolean> {
    return this.db.prepare("DELETE FROM settings WHERE namespace = ? AND key = ?").run(namespace, key).changes > 0;
  }

  async listSettings<T = unknown>(namespace: string): Promise<Array<{ key: string; value: T }>> {
    const rows = this.db.prepare("SELECT key, value FROM settings WHERE namespace = ? ORDER BY key").all(namespace) as
      Array<{ key: string; value: string }>;
    return rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) as T }));
  }

  async claimOnce(namespace: string, key: string): Promise<boolean> {
    return (
      this.db
        .prepare("INSERT INTO claims VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
        .run(namespace, key, new Date().toISOString()).changes === 1
    );
  }

  private assertOpen(): void {
    if (!this.db.open) throw new ClosedError("the SQLite usage store");
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** For tools and benchmarks that need SQL the contract does not offer (read-only use). */
  get database(): Database.Database {
    return this.db;
  }
}

function rebuildSql(kind: "hourly" | "daily"): string {
  const bucket = kind === "hourly" ? "substr(timestamp, 1, 13)" : "day";
  return `INSERT INTO usage_rollup_${kind}
  SELECT user_id, ${bucket}, provider, model, COALESCE(agent_name, ''), operation_type, COUNT(*), SUM(input_tokens),
    SUM(output_tokens), SUM(total_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens),
    SUM(total_cost_nanos), SUM(error), SUM(1 - priced), SUM(estimated), SUM(cached), MIN(timestamp), MAX(timestamp)
  FROM usage_records WHERE 1 = 1`;
}
const REBUILD_GROUP = {
  hourly: "GROUP BY user_id, substr(timestamp, 1, 13), provider, model, COALESCE(agent_name, ''), operation_type",
  daily: "GROUP BY user_id, day, provider, model, COALESCE(agent_name, ''), operation_type",
};

/** Adds a batch's sums to existing rollup rows (an upsert after a grouped SELECT). */
function upsertTail(bucket: string): string {
  return `ON CONFLICT (user_id, ${bucket}, provider, model, agent_name, operation_type) DO UPDATE SET
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

function isHourAligned(iso: string | undefined): boolean {
  return iso === undefined || iso.slice(13) === ":00:00.000Z";
}

function groupExpression(key: GroupKey, columns: Record<string, string>, params: Record<string, unknown>, i: number): string {
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

function whereClause(filter: RecordFilter): { where: string[]; params: Record<string, unknown> } {
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
  if (filter.agentName !== undefined) (where.push("agent_name = @agentName"), (params.agentName = filter.agentName));
  if (filter.start !== undefined) (where.push(`${bucket} >= @startBucket`), (params.startBucket = toBucket(filter.start)));
  if (filter.end !== undefined) (where.push(`${bucket} < @endBucket`), (params.endBucket = toBucket(filter.end)));
  return { where, params };
}

/** Splits an hour-aligned range at UTC midnights; `days` is null when no whole day fits. */
function splitAtDays(start: string | undefined, end: string | undefined) {
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

function withRange(query: AggregateQuery, range: { start?: string; end?: string }): AggregateQuery {
  return { ...query, filter: { ...query.filter, start: range.start, end: range.end } };
}

export function mergeRows(rows: AggregateRow[], groupBy: GroupKey[]): AggregateRow[] {
  const merged = new Map<string, AggregateRow>();
  for (const row of rows) {
    const k = JSON.stringify(groupBy.map((g) => row.key[g]));
    const existing = merged.get(k);
    if (existing) addTotals(existing, row);
    else merged.set(k, { ...row, key: { ...row.key } });
  }
  return [...merged.values()];
}
