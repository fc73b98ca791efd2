/**
 * The store contract. Every backend (SQLite, Cosmos DB) implements this and nothing
 * above it reaches into a backend. Backends stay thin: statistics, time-zone
 * bucketing, paging cursors and budgets live in the core (`query/`, `budget/`).
 */
import type { UsageRecord } from "../record/types.js";

/** Filters shared by listing and aggregation. Times are ISO UTC; start inclusive, end exclusive. */
export interface RecordFilter {
  userId?: string;
  threadId?: string;
  provider?: string;
  model?: string;
  agentName?: string;
  start?: string;
  end?: string;
}

/**
 * What an aggregate can be grouped by. `hour` is `YYYY-MM-DDTHH` and `day` is
 * `YYYY-MM-DD`, both in UTC: the core turns hours into days of any time zone.
 * `dimension:<name>` groups by a charge-back dimension (tenant, feature, ...);
 * records without it fall into the `null` group.
 */
export type GroupKey =
  | "user"
  | "thread"
  | "provider"
  | "model"
  | "agent"
  | "operation"
  | "hour"
  | "day"
  | `dimension:${string}`;

export interface AggregateQuery {
  filter: RecordFilter;
  groupBy: GroupKey[];
}

/** Sums over a set of records. Costs are integer nano-dollars so sums are exact. */
export interface UsageTotals {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  costNanos: number;
  errors: number;
  unpriced: number;
  estimated: number;
  cached: number;
  firstSeen: string | null;
  lastSeen: string | null;
}

export interface AggregateRow extends UsageTotals {
  /** One entry per `groupBy` key; `null` where records lack the field. */
  key: Record<string, string | null>;
}

/** Keyset paging: newest first by (timestamp desc, id desc), strictly after `after`. */
export interface PageRequest {
  limit: number;
  after?: { timestamp: string; id: string };
}

export interface AppendResult {
  /** Records stored by this call. */
  inserted: number;
  /** Records whose id was already stored (an idempotent replay): not counted again. */
  duplicates: number;
  /** Events the writer reports to its logger (e.g. the database file was replaced and reopened). */
  warnings?: string[];
}

/** New prices for a stored record (re-pricing). Rollups must follow. */
export interface CostUpdate {
  id: string;
  userId: string;
  inputCostNanos: number;
  outputCostNanos: number;
  totalCostNanos: number;
  priced: boolean;
  priceSource: string | null;
}

/**
 * One process's report on a shared budget counter (one limit, one subject, one window),
 * applied atomically by the store. Amounts are integer units: tokens, requests or
 * nano-dollars. A counter holds `used` (settled usage of every process) and one lease
 * per process (budget that process may hand out to calls without asking again).
 * Invariant kept at every grant: used + all live leases <= limit.
 */
export interface BudgetCounterUpdate {
  /** Counter id (limit, subject, window start). */
  key: string;
  /** The subject's partition: the user id for per-user counters, else a shared one. */
  partition: string;
  /** The window's end (epoch ms): the counter may be deleted after it. */
  expiresAt: number;
  limit: number;
  /** `used` of a counter this update creates (past usage read from the records). */
  seed: number;
  /** The reporting process (its lease is keyed by it). */
  holder: string;
  /** Usage this holder settled since its last report: added to `used`, taken off its lease. */
  spent: number;
  /** Held by this holder's calls in flight (shown in status). */
  inFlight: number;
  /**
   * The lease asked for. When `need` is free the holder gets it plus a quarter of
   * the rest, at most `want`; otherwise it keeps at most `keep` (never more than is free).
   */
  need: number;
  want: number;
  /** The lease the holder still hands out from (its lease minus `spent`): kept whenever free. */
  keep: number;
  /** Lease expiry (epoch ms): a holder that stops reporting loses its lease then. */
  leaseUntil: number;
  /**
   * The reporter's clock. A backend that can read the store's own time judges leases by
   * that instead (Cosmos DB: the answer's `Date`), keeping the lease's length
   * `leaseUntil - now`, so a host with a skewed clock cannot lapse others' leases.
   */
  now: number;
  /**
   * This report's number, increasing per holder. A holder whose report got no answer
   * sends the same report again with the same number; the counter keeps each holder's
   * last number for 10 minutes and skips the usage of a report it has already applied.
   */
  seq?: number;
  /**
   * A rolling window: the counter keeps usage per bucket of `bucketMs` (epoch-aligned)
   * and `used` is the sum of the buckets that overlap the last `windowMs` at `now`.
   * `seed` and `spent` then come with their buckets (`seedBuckets`, `spentBuckets`:
   * [bucket index, units], summing to `seed` and `spent`).
   */
  rolling?: BudgetRollingWindow;
  seedBuckets?: Array<[number, number]>;
  spentBuckets?: Array<[number, number]>;
}

export interface BudgetRollingWindow {
  windowMs: number;
  bucketMs: number;
}

export interface BudgetCounterState {
  key: string;
  used: number;
  /** Live leases of every holder, this one included. */
  leased: number;
  /** Held by calls in flight, as last reported by every holder. */
  inFlight: number;
  /** This holder's lease after the update (0 for a read). */
  granted: number;
  /** True when this update created the counter (its `used` started from `seed`). */
  created: boolean;
  /** Rolling windows: the live buckets ([bucket index, units]), so a holder sees usage leave the window without asking. */
  buckets?: Array<[number, number]>;
}

/** What a leaderboard ranks: users, or threads (a thread is keyed with its user). */
export type LeaderEntity = "user" | "thread";

/** One entity of a leaderboard: `{ user }`, or `{ thread, user }` for threads. */
export interface LeaderKey {
  user: string;
  thread?: string;
}

/** Whole UTC days `start` (inclusive) to `end` (exclusive), both `YYYY-MM-DD`. */
export interface DaySpan {
  start: string;
  end: string;
}

/** An entity's cost over a span of whole days, as ranked by `leaders`; `span` indexes the request's spans. */
export interface SpanLeader extends LeaderKey {
  span: number;
  costNanos: number;
}

/** An entity's exact cost over a range, as returned by `leaderCosts`. */
export interface LeaderCost extends LeaderKey {
  costNanos: number;
}

export interface StoreCapabilities {
  /** Hour-aligned aggregates without a thread filter are read from rollups, not raw records. */
  rollups: boolean;
  /** Several processes may write the same store at once without loss. */
  multiProcess: boolean;
  /** A native TTL deletes old raw records by itself. */
  ttl: boolean;
}

export interface UsageStore {
  /** `sqlite`, `cosmos`, ... */
  readonly kind: string;
  readonly capabilities: StoreCapabilities;

  /** Stores a batch, idempotent by record id (a replayed id is a duplicate, not an error). */
  append(records: UsageRecord[]): Promise<AppendResult>;
  /** Raw records matching the filter, newest first, at most `page.limit`. */
  list(filter: RecordFilter, page: PageRequest): Promise<UsageRecord[]>;
  /** One record by id; `userId` makes it a point read where the backend partitions by user. */
  get(id: string, userId?: string): Promise<UsageRecord | null>;
  /** Grouped sums; only groups with at least one record are returned. */
  aggregate(query: AggregateQuery): Promise<AggregateRow[]>;
  /** Applies re-pricing; returns how many records changed. Rollups stay consistent. */
  updateCosts(updates: CostUpdate[]): Promise<number>;
  /** Deletes raw records older than `before` (and their rollup share); returns how many. */
  prune(before: string, filter?: { userId?: string }): Promise<number>;
  /** Recomputes every rollup from the raw records. */
  rebuildRollups(): Promise<void>;
  /**
   * Optional: makes what this process has stored visible in every view, where a backend
   * builds some views asynchronously (Cosmos DB folds its change feed into the global
   * rollups). The monitor's `flush()` calls it after the writer's flush. Never throws for
   * a view that will catch up by itself.
   */
  flush?(): Promise<void>;

  /**
   * Optional leaderboard fast path (see query/leaderboard.ts; without it the core groups
   * the whole range by entity). For each span of whole UTC days, the entities at ranks
   * `offset` to `offset + limit - 1` by their cost over that span, highest first (ties in
   * any fixed order), read from pre-aggregated data.
   */
  leaders?(entity: LeaderEntity, spans: DaySpan[], offset: number, limit: number): Promise<SpanLeader[]>;
  /**
   * Exact totals over `range` (any alignment) of the given entities, one row per entity
   * with records there; `key` is `{ user }` or `{ thread, user }`.
   */
  leaderTotals?(entity: LeaderEntity, keys: LeaderKey[], range: { start: string; end: string }): Promise<AggregateRow[]>;
  /**
   * Optional, with `leaderTotals`: the exact cost alone over `range` of the given entities,
   * one row per entity with records there. Cheaper than `leaderTotals` where a store keeps
   * costs over spans of days (the core narrows many contenders with it before reading totals).
   */
  leaderCosts?(entity: LeaderEntity, keys: LeaderKey[], range: { start: string; end: string }): Promise<LeaderCost[]>;

  /** A small key-value area for budgets, alert state and API keys. */
  getSetting<T = unknown>(namespace: string, key: string): Promise<T | null>;
  putSetting(namespace: string, key: string, value: unknown): Promise<void>;
  deleteSetting(namespace: string, key: string): Promise<boolean>;
  listSettings<T = unknown>(namespace: string): Promise<Array<{ key: string; value: T }>>;
  /** Applies budget counter reports, each atomically (see BudgetCounterUpdate). */
  updateBudgetCounters(updates: BudgetCounterUpdate[]): Promise<BudgetCounterState[]>;
  /** Current counters (null where none exists); `now` drops expired leases from the sums. */
  readBudgetCounters(keys: Array<{ key: string; partition: string }>, now: number): Promise<Array<BudgetCounterState | null>>;
  /** Atomically claims `key` once: true for the first caller ever, false afterwards (alert dedupe). */
  claimOnce(namespace: string, key: string): Promise<boolean>;

  close(): Promise<void>;
}

export function emptyTotals(): UsageTotals {
  return {
    requests: 0,
    inputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    costNanos: 0,
    errors: 0,
    unpriced: 0,
    estimated: 0,
    cached: 0,
    firstSeen: null,
    lastSeen: null,
  };
}

/** Adds `b` into `a` (in place) and returns `a`. */
export function addTotals(a: UsageTotals, b: UsageTotals): UsageTotals {
  a.requests += b.requests;
  a.inputTokens += b.inputTokens;
  a.outputTokens += b.outputTokens;
  a.totalTokens += b.totalTokens;
  a.cacheReadTokens += b.cacheReadTokens;
  a.cacheWriteTokens += b.cacheWriteTokens;
  a.reasoningTokens += b.reasoningTokens;
  a.costNanos += b.costNanos;
  a.errors += b.errors;
  a.unpriced += b.unpriced;
  a.estimated += b.estimated;
  a.cached += b.cached;
  if (b.firstSeen && (!a.firstSeen || b.firstSeen < a.firstSeen)) a.firstSeen = b.firstSeen;
  if (b.lastSeen && (!a.lastSeen || b.lastSeen > a.lastSeen)) a.lastSeen = b.lastSeen;
  return a;
}

/** Sums rows from several sources (rollups, raw records) that share group keys. */
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

/** Totals of one record, for backends that aggregate in memory. */
export function recordTotals(r: UsageRecord): UsageTotals {
  return {
    requests: 1,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    totalTokens: r.totalTokens,
    cacheReadTokens: r.cacheReadTokens,
    cacheWriteTokens: r.cacheWriteTokens,
    reasoningTokens: r.reasoningTokens,
    costNanos: r.totalCostNanos,
    errors: r.error ? 1 : 0,
    unpriced: r.priced ? 0 : 1,
    estimated: r.estimated ? 1 : 0,
    cached: r.cached ? 1 : 0,
    firstSeen: r.timestamp,
    lastSeen: r.timestamp,
  };
}

/** The value a record has for a group key (the same rule on every backend). */
export function groupValue(r: UsageRecord, key: GroupKey): string | null {
  switch (key) {
    case "user":
      return r.userId;
    case "thread":
      return r.threadId;
    case "provider":
      return r.provider;
    case "model":
      return r.model;
    case "agent":
      return r.agentName;
    case "operation":
      return r.operationType;
    case "hour":
      return r.timestamp.slice(0, 13);
    case "day":
      return r.timestamp.slice(0, 10);
    default: {
      // Own values only: "constructor" or "__proto__" must not read Object.prototype's.
      const name = key.slice("dimension:".length);
      return Object.hasOwn(r.dimensions, name) ? (r.dimensions[name] ?? null) : null;
    }
  }
}

/** Whether a record matches a filter (the reference semantics every backend must reproduce). */
export function matchesFilter(r: UsageRecord, f: RecordFilter): boolean {
  return (
    (f.userId === undefined || r.userId === f.userId) &&
    (f.threadId === undefined || r.threadId === f.threadId) &&
    (f.provider === undefined || r.provider === f.provider) &&
    (f.model === undefined || r.model === f.model) &&
    (f.agentName === undefined || r.agentName === f.agentName) &&
    (f.start === undefined || r.timestamp >= f.start) &&
    (f.end === undefined || r.timestamp < f.end)
  );
}

/** In-memory grouping, used by backends without GROUP BY and by the reference store. */
export function aggregateInMemory(records: Iterable<UsageRecord>, query: AggregateQuery): AggregateRow[] {
  const groups = new Map<string, AggregateRow>();
  for (const r of records) {
    if (!matchesFilter(r, query.filter)) continue;
    const key: Record<string, string | null> = {};
    for (const k of query.groupBy) key[k] = groupValue(r, k);
    const mapKey = JSON.stringify(query.groupBy.map((k) => key[k]));
    let row = groups.get(mapKey);
    if (!row) {
      row = { key, ...emptyTotals() };
      groups.set(mapKey, row);
    }
    addTotals(row, recordTotals(r));
  }
  return [...groups.values()];
}
