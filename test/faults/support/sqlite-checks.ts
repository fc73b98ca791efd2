/** Independent reads of a SQLite usage file: plain SQL, not the store's query code. */
import Database from "better-sqlite3";

export interface FileContents {
  ids: string[];
  /** Ids stored more than once (the primary key should make this impossible). */
  duplicateIds: string[];
  inputTokens: number;
  outputTokens: number;
  costNanos: number;
}

export function readUsageFile(path: string): FileContents {
  const db = new Database(path, { readonly: true });
  try {
    const ids = (db.prepare("SELECT id FROM usage_records").all() as Array<{ id: string }>).map((r) => r.id);
    const duplicateIds = (db.prepare("SELECT id FROM usage_records GROUP BY id HAVING COUNT(*) > 1").all() as Array<{ id: string }>).map((r) => r.id);
    const sums = db
      .prepare("SELECT COALESCE(SUM(input_tokens), 0) AS i, COALESCE(SUM(output_tokens), 0) AS o, COALESCE(SUM(total_cost_nanos), 0) AS c FROM usage_records")
      .get() as { i: number; o: number; c: number };
    return { ids, duplicateIds, inputTokens: sums.i, outputTokens: sums.o, costNanos: sums.c };
  } finally {
    db.close();
  }
}

/**
 * Raw records and hourly rollups summed per (user, hour, model): the two must be equal.
 * When the file also keeps daily rollups, they are compared per (user, day, model).
 */
/** Per-user rollups exist only for users past the store's rollup threshold ("heavy" users). */
const HEAVY = "WHERE user_id IN (SELECT user_id FROM usage_user_counts WHERE heavy = 1)";

export function rollupsVersusRaw(path: string): {
  raw: Map<string, string>;
  rollup: Map<string, string>;
  rawDaily?: Map<string, string>;
  daily?: Map<string, string>;
  rawGlobal?: Map<string, string>;
  global?: Map<string, string>;
} {
  const db = new Database(path, { readonly: true });
  try {
    const raw = db
      .prepare(
        `SELECT user_id || '|' || substr(timestamp, 1, 13) || '|' || model AS k, COUNT(*) AS n, SUM(input_tokens) AS i,
           SUM(output_tokens) AS o, SUM(total_cost_nanos) AS c FROM usage_records ${HEAVY} GROUP BY k`,
      )
      .all() as Array<{ k: string; n: number; i: number; o: number; c: number }>;
    const rollup = db
      .prepare(
        `SELECT user_id || '|' || hour || '|' || model AS k, SUM(requests) AS n, SUM(input_tokens) AS i, SUM(output_tokens) AS o,
           SUM(cost_nanos) AS c FROM usage_rollup_hourly GROUP BY user_id, hour, model`,
      )
      .all() as Array<{ k: string; n: number; i: number; o: number; c: number }>;
    const toMap = (rows: typeof raw) => new Map(rows.map((r) => [r.k, `${r.n}/${r.i}/${r.o}/${r.c}`]));
    const hasDaily = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'usage_rollup_daily'").get() !== undefined;
    if (!hasDaily) return { raw: toMap(raw), rollup: toMap(rollup) };
    const rawDaily = db
      .prepare(
        `SELECT user_id || '|' || substr(timestamp, 1, 10) || '|' || model AS k, COUNT(*) AS n, SUM(input_tokens) AS i,
           SUM(output_tokens) AS o, SUM(total_cost_nanos) AS c FROM usage_records ${HEAVY} GROUP BY k`,
      )
      .all() as typeof raw;
    const daily = db
      .prepare(
        `SELECT user_id || '|' || day || '|' || model AS k, SUM(requests) AS n, SUM(input_tokens) AS i, SUM(output_tokens) AS o,
           SUM(cost_nanos) AS c FROM usage_rollup_daily GROUP BY user_id, day, model`,
      )
      .all() as typeof raw;
    // Application-wide rollups hold every record, per hour and model.
    const rawGlobal = db
      .prepare(
        `SELECT substr(timestamp, 1, 13) || '|' || model AS k, COUNT(*) AS n, SUM(input_tokens) AS i, SUM(output_tokens) AS o,
           SUM(total_cost_nanos) AS c FROM usage_records GROUP BY k`,
      )
      .all() as typeof raw;
    const global = db
      .prepare(
        `SELECT hour || '|' || model AS k, SUM(requests) AS n, SUM(input_tokens) AS i, SUM(output_tokens) AS o,
           SUM(cost_nanos) AS c FROM usage_global_hourly GROUP BY hour, model`,
      )
      .all() as typeof raw;
    return { raw: toMap(raw), rollup: toMap(rollup), rawDaily: toMap(rawDaily), daily: toMap(daily), rawGlobal: toMap(rawGlobal), global: toMap(global) };
  } finally {
    db.close();
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
