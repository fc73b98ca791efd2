/**
 * SQLite schema and its migrations. Each migration runs once, in order, inside a
 * transaction; `PRAGMA user_version` records how far a database file has come, so
 * a file written by an older version of the package is upgraded in place.
 */
/** The sum columns every rollup table carries, after its key columns. */
const TOTALS_COLUMNS = `requests INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cost_nanos INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    unpriced INTEGER NOT NULL,
    estimated INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL`;

/** The sums of raw records, in the order of TOTALS_COLUMNS (what a fold inserts). */
export const RAW_SUMS = `COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(total_tokens), SUM(cache_read_tokens),
      SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(total_cost_nanos), SUM(error), SUM(1 - priced),
      SUM(estimated), SUM(cached), MIN(timestamp), MAX(timestamp)`;

/**
 * A rollup table: sums per time bucket, provider, model, agent and operation, and per
 * user in the per-user tables.
 */
function rollupTable(name: string, bucket: "hour" | "day", perUser: boolean): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (
    ${perUser ? "user_id TEXT NOT NULL," : ""}
    ${bucket} TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    operation_type TEXT NOT NULL,
    ${TOTALS_COLUMNS},
    PRIMARY KEY (${perUser ? "user_id, " : ""}${bucket}, provider, model, agent_name, operation_type)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS idx_${name}_${bucket} ON ${name} (${bucket});`;
}

/**
 * A leaderboard table: one entity's sums per UTC day (every user, or every thread of a
 * user), keyed by entity for exact totals and indexed by (day, cost desc) so a day's
 * costliest entities are the first rows of an index range (see query/leaderboard.ts).
 */
function entityDayTable(name: string, keys: string[]): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (
    ${keys.map((k) => `${k} TEXT NOT NULL,`).join("\n    ")}
    day TEXT NOT NULL,
    ${TOTALS_COLUMNS},
    PRIMARY KEY (day, ${keys.join(", ")})
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS idx_${name}_cost ON ${name} (day, cost_nanos DESC, ${keys.join(", ")});
  INSERT INTO ${name} SELECT ${keys.join(", ")}, day, ${RAW_SUMS}
    FROM usage_records WHERE ${keys.map((k) => `${k} IS NOT NULL`).join(" AND ")} GROUP BY ${keys.join(", ")}, day;`;
}

export const MIGRATIONS: readonly string[] = [
  // 1: raw records, hourly rollups, settings and one-time claims.
  `
  CREATE TABLE IF NOT EXISTS usage_records (
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    thread_id TEXT,
    agent_name TEXT,
    operation_type TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    deployment TEXT,
    timestamp TEXT NOT NULL,
    ts INTEGER NOT NULL,
    day TEXT NOT NULL,
    month TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    input_cost REAL NOT NULL,
    output_cost REAL NOT NULL,
    total_cost REAL NOT NULL,
    input_cost_nanos INTEGER NOT NULL,
    output_cost_nanos INTEGER NOT NULL,
    total_cost_nanos INTEGER NOT NULL,
    priced INTEGER NOT NULL,
    price_source TEXT,
    estimated INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    latency_ms REAL,
    error INTEGER NOT NULL,
    error_message TEXT,
    run_id TEXT,
    parent_run_id TEXT,
    tags TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    request_metadata TEXT NOT NULL
  );
  -- Indexes key on the integer epoch-ms \`ts\`: short keys keep ingest fast. Ties on ts are
  -- ordered by id in a small sort, which paging needs only within one millisecond.
  CREATE INDEX IF NOT EXISTS idx_usage_user_ts ON usage_records (user_id, ts);
  CREATE INDEX IF NOT EXISTS idx_usage_thread_ts ON usage_records (thread_id, ts);
  CREATE INDEX IF NOT EXISTS idx_usage_ts ON usage_records (ts);

  -- Rollups for the whole application, and per user for users with many records (for
  -- the others, their few raw records are read directly: see rollups.ts). Daily tables
  -- hold the same sums per UTC day, so long ranges read 24 times fewer rows.
  ${rollupTable("usage_rollup_hourly", "hour", true)}
  ${rollupTable("usage_rollup_daily", "day", true)}
  ${rollupTable("usage_global_hourly", "hour", false)}
  ${rollupTable("usage_global_daily", "day", false)}

  -- Records per user, and whether the user has per-user rollups.
  CREATE TABLE IF NOT EXISTS usage_user_counts (
    user_id TEXT NOT NULL PRIMARY KEY,
    records INTEGER NOT NULL,
    heavy INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS idx_user_counts_heavy ON usage_user_counts (heavy) WHERE heavy = 1;

  CREATE TABLE IF NOT EXISTS settings (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
  ) WITHOUT ROWID;

  CREATE TABLE IF NOT EXISTS claims (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
  ) WITHOUT ROWID;
  `,
  // 2: shared budget counters (one row per limit, subject and window; leases inside `doc`).
  `
  CREATE TABLE IF NOT EXISTS budget_counters (
    key TEXT NOT NULL PRIMARY KEY,
    partition TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    doc TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS idx_budget_counters_expiry ON budget_counters (expires_at);
  `,
  // 3: per-day totals of every user and every thread, for leaderboards, filled from the
  // records already stored.
  `
  ${entityDayTable("usage_user_days", ["user_id"])}
  ${entityDayTable("usage_thread_days", ["thread_id", "user_id"])}

  -- Cost per entity over a span of whole days (users have thread_id ''), kept for the
  -- spans leaderboards asked for lately and exact under every write (see span-windows.ts).
  CREATE TABLE IF NOT EXISTS usage_leader_spans (
    entity TEXT NOT NULL,
    first_day TEXT NOT NULL,
    end_day TEXT NOT NULL,
    built_at TEXT NOT NULL,
    PRIMARY KEY (entity, first_day, end_day)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS usage_leader_span_costs (
    entity TEXT NOT NULL,
    first_day TEXT NOT NULL,
    end_day TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    cost_nanos INTEGER NOT NULL,
    PRIMARY KEY (entity, first_day, end_day, thread_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS idx_leader_span_costs_cost ON usage_leader_span_costs (entity, first_day, end_day, cost_nanos DESC);
  `,
];

/** Sum columns shared by the raw table and the rollup table, in one order. */
export const TOTAL_COLUMNS = {
  rollup: `SUM(requests) AS requests, SUM(input_tokens) AS inputTokens, SUM(output_tokens) AS outputTokens,
    SUM(total_tokens) AS totalTokens, SUM(cache_read_tokens) AS cacheReadTokens,
    SUM(cache_write_tokens) AS cacheWriteTokens, SUM(reasoning_tokens) AS reasoningTokens,
    SUM(cost_nanos) AS costNanos, SUM(errors) AS errors, SUM(unpriced) AS unpriced,
    SUM(estimated) AS estimated, SUM(cached) AS cached, MIN(first_seen) AS firstSeen, MAX(last_seen) AS lastSeen`,
  raw: `COUNT(*) AS requests, SUM(input_tokens) AS inputTokens, SUM(output_tokens) AS outputTokens,
    SUM(total_tokens) AS totalTokens, SUM(cache_read_tokens) AS cacheReadTokens,
    SUM(cache_write_tokens) AS cacheWriteTokens, SUM(reasoning_tokens) AS reasoningTokens,
    SUM(total_cost_nanos) AS costNanos, SUM(error) AS errors, SUM(1 - priced) AS unpriced,
    SUM(estimated) AS estimated, SUM(cached) AS cached, MIN(timestamp) AS firstSeen, MAX(timestamp) AS lastSeen`,
} as const;
