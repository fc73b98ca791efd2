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
import type { SpanWindows } from "./span-windows.js";

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

/** The application-wide tables, and those per user or thread (see RollupMaintainer.afterInsert). */
export const APP_WIDE = ROLLUP_TABLES.filter((r) => r.owner.length === 0);
export const PER_ENTITY = ROLLUP_TABLES.filter((r) => r.owner.length > 0);
/**
 * Records per user in a batch from which every table is summed in JavaScript. Below it the
 * per-user and per-thread tables have about a group per record, where one grouped statement
 * costs what an upsert per group does (the ingest dataset, 10,000 users in batches of 5,000,
 * was measured no faster summed here), so SQLite keeps those. A judgement between the two
 * measured ends (one user per batch, one record per user), not a tuned value.
 */
export const FEW_USERS = 2;
/**
 * Batches up to this size are summed in JavaScript whatever their users. A grouped statement
 * costs about as much to start as the few upserts of a small batch, and a replica of a fleet
 * flushes small batches of many users: with 10,000 users the rollups of batches of 10, 50 and
 * 200 records cost 29.5, 22.2 and 17.6 µs per record grouped by SQLite, 18.1, 16.1 and 13.4
 * summed here. At 500 the two were even; at 1,000 SQLite's sorted groups won (10.5 against 13.6).
 */
export const SMALL_BATCH = 250;

/** A batch's new rows are found by rowid range alone (see foldSql). */
export const NEW_ROWS = "usage_records NOT INDEXED";

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
    ${addSums(r)}`;
}

/** Adds one group's sums, summed by the caller (see batch-fold.ts), to a rollup table. */
export function upsertSql(r: RollupTable): string {
  const columns = [...keyColumns(r).split(", "), ...TOTALS];
  return `INSERT INTO ${r.table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})
    ${addSums(r)}`;
}

const TOTALS = [
  "requests",
  "input_tokens",
  "output_tokens",
  "total_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "cost_nanos",
  "errors",
  "unpriced",
  "estimated",
  "cached",
  "first_seen",
  "last_seen",
];

function addSums(r: RollupTable): string {
  const sums = TOTALS.slice(0, -2).map((c) => `${c} = ${c} + excluded.${c}`);
  return `ON CONFLICT (${keyColumns(r)}) DO UPDATE SET
      ${sums.join(",\n      ")},
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
