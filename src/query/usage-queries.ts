/**
 * The statistics every interface (library, REST, CLI, dashboard) answers with,
 * written once above the store contract. Aggregates are split at whole hours so
 * the store can answer the middle from rollups and only the partial hours at the
 * edges from raw records.
 */
import { ValidationError } from "../errors.js";
import type { Pricer } from "../pricing/types.js";
import type { UsageRecord } from "../record/types.js";
import {
  addTotals,
  emptyTotals,
  type AggregateRow,
  type GroupKey,
  type LeaderEntity,
  type RecordFilter,
  type UsageStore,
  type UsageTotals,
} from "../stores/types.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { compareLeaders, hasLeaderboards, topLeaders } from "./leaderboard.js";
import { computeRecommendations, type Recommendation } from "./recommendations.js";
import { resolveRange, splitAtHours, type RangeInput, type ResolvedRange } from "./range.js";
import { statsFromRows, totalsToStats, NO_AGENT, type TokenUsageStats, type TotalsView } from "./stats.js";
import { assertTimeZone, type Granularity } from "./time-buckets.js";

export interface QueryOptions extends RangeInput {
  /** IANA time zone for day boundaries. @default "UTC" */
  timeZone?: string;
}

export interface GroupedUsage extends TotalsView {
  key: string | null;
}

export interface ListOptions extends RangeInput {
  userId?: string;
  threadId?: string;
  model?: string;
  agentName?: string;
  provider?: string;
  /** @default 50; values above `MAX_PAGE_SIZE` are clamped to it. */
  limit?: number;
  cursor?: string;
}

export interface UsageReport {
  overall: TokenUsageStats;
  byProvider: GroupedUsage[];
  byModel: Array<GroupedUsage & { provider: string | null }>;
  byAgent: GroupedUsage[];
  topUsers: GroupedUsage[];
  topThreads: Array<GroupedUsage & { userId: string | null }>;
  /** Budget and subscription status, when the service has a budget guard. */
  budget?: unknown[];
}

export interface RecordPage {
  records: UsageRecord[];
  /** Pass back to get the next page; absent after the last page. */
  cursor?: string;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

export class UsageQueries {
  constructor(readonly store: UsageStore) {}

  /** Sums over `filter` grouped by `groupBy`, exact for any range. */
  async aggregate(filter: RecordFilter & ResolvedRange, groupBy: GroupKey[]): Promise<AggregateRow[]> {
    const parts = await Promise.all(
      splitAtHours(filter).map((part) => this.store.aggregate({ filter: { ...filter, ...part }, groupBy })),
    );
    if (parts.length === 1) return parts[0];
    const merged = new Map<string, AggregateRow>();
    for (const row of parts.flat()) {
      const k = JSON.stringify(groupBy.map((g) => row.key[g]));
      const existing = merged.get(k);
      if (existing) addTotals(existing, row);
      else merged.set(k, { ...row, key: { ...row.key } });
    }
    return [...merged.values()];
  }

  async getUserUsage(userId: string, options: QueryOptions = {}): Promise<TokenUsageStats> {
    return this.stats({ userId: requireId(userId, "userId") }, options);
  }

  /** A thread's usage; with no range given, the thread's whole life. */
  async getThreadUsage(threadId: string, options: QueryOptions & { userId?: string } = {}): Promise<TokenUsageStats> {
    const filter: RecordFilter = { threadId: requireId(threadId, "threadId") };
    if (options.userId !== undefined) filter.userId = requireId(options.userId, "userId");
    const wholeLife = options.start === undefined && options.days === undefined;
    return wholeLife ? this.stats(filter, { ...options, start: new Date("2000-01-01T00:00:00Z") }, true) : this.stats(filter, options);
  }

  async getProviderSummary(provider: string, options: QueryOptions = {}): Promise<TokenUsageStats> {
    return this.stats({ provider: requireId(provider, "provider") }, options);
  }

  async getOverallUsage(options: QueryOptions & { userId?: string } = {}): Promise<TokenUsageStats> {
    return this.stats(options.userId === undefined ? {} : { userId: requireId(options.userId, "userId") }, options);
  }

  async getUsageByModel(options: QueryOptions & { userId?: string } = {}): Promise<Array<GroupedUsage & { provider: string | null }>> {
    const rows = await this.grouped(options, ["model", "provider"]);
    return rows.map((row) => ({ ...view(row, row.key.model), provider: row.key.provider })).sort(byCost);
  }

  async getUsageByAgent(options: QueryOptions & { userId?: string } = {}): Promise<GroupedUsage[]> {
    return (await this.grouped(options, ["agent"])).map((row) => view(row, row.key.agent ?? NO_AGENT)).sort(byCost);
  }

  async getUsageByProvider(options: QueryOptions & { userId?: string } = {}): Promise<GroupedUsage[]> {
    return (await this.grouped(options, ["provider"])).map((row) => view(row, row.key.provider)).sort(byCost);
  }

  /** The costliest users over the range (see `leaderboard.ts`: exact, without reading every record). */
  async getTopUsers(options: QueryOptions & { limit?: number } = {}): Promise<GroupedUsage[]> {
    const rows = await this.leaders("user", options);
    return rows.map((row) => view(row, row.key.user));
  }

  /** The costliest threads over the range, each with its user; with `userId`, that user's threads. */
  async getTopThreads(options: QueryOptions & { userId?: string; limit?: number } = {}): Promise<Array<GroupedUsage & { userId: string | null }>> {
    const rows = await this.leaders("thread", options);
    return rows.map((row) => ({ ...view(row, row.key.thread), userId: row.key.user }));
  }

  /** Leaderboard rows in `compareLeaders` order: from the store's per-day lists when it has them. */
  private async leaders(entity: LeaderEntity, options: QueryOptions & { userId?: string; limit?: number }): Promise<AggregateRow[]> {
    const limit = clampLimit(options.limit ?? 10);
    if (options.userId === undefined && hasLeaderboards(this.store)) {
      const cost = async (piece: ResolvedRange) => totalsOf(await this.aggregate(piece, [])).costNanos;
      return topLeaders(this.store, entity, resolveRange(options), limit, cost);
    }
    // One user's threads come from that user's records alone; stores without the fast path group the range.
    const rows = await this.grouped(options, entity === "user" ? ["user"] : ["thread", "user"]);
    return rows.filter((row) => entity === "user" || row.key.thread !== null).sort(compareLeaders).slice(0, limit);
  }

  /** Charge-back by any dimension recorded at tracking time (tenant, department, feature, ...). */
  async getUsageBy(dimension: string, options: QueryOptions & { userId?: string } = {}): Promise<GroupedUsage[]> {
    if (typeof dimension !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(dimension)) {
      throw new ValidationError("dimension", "must be a name matching [A-Za-z0-9_.-]{1,64}");
    }
    const rows = await this.grouped(options, [`dimension:${dimension}`]);
    return rows.map((row) => view(row, row.key[`dimension:${dimension}`])).sort(byCost);
  }

  async getCostTrend(
    options: QueryOptions & { userId?: string; threadId?: string; granularity?: Granularity } = {},
  ): Promise<TokenUsageStats["costTrend"]> {
    const granularity = options.granularity ?? "day";
    if (!["day", "week", "month"].includes(granularity)) {
      throw new ValidationError("granularity", `must be day, week or month, got ${JSON.stringify(granularity)}`);
    }
    const filter: RecordFilter = {};
    if (options.userId !== undefined) filter.userId = requireId(options.userId, "userId");
    if (options.threadId !== undefined) filter.threadId = requireId(options.threadId, "threadId");
    const range = resolveRange(options);
    const timeZone = assertTimeZone(options.timeZone ?? "UTC");
    return statsFromRows([], range, timeZone, granularity, await this.trendRows(filter, range, timeZone)).costTrend;
  }

  /** Cost-saving suggestions from the range's usage, most money at stake first (see `recommendations.ts`). */
  async getRecommendations(options: QueryOptions & { userId?: string } = {}): Promise<Recommendation[]> {
    // The monitor subclass carries a pricer with the user's overrides: re-price with it when present.
    return computeRecommendations(this, { ...options, pricer: (this as { pricer?: Pricer }).pricer });
  }

  /**
   * Everything a monthly review needs in one call: overall stats, and usage by provider,
   * model and agent, the top users and the top threads.
   */
  async getComprehensiveReport(options: QueryOptions & { limit?: number } = {}): Promise<UsageReport> {
    const [overall, byProvider, byModel, byAgent, topUsers, topThreads] = await Promise.all([
      this.getOverallUsage(options),
      this.getUsageByProvider(options),
      this.getUsageByModel(options),
      this.getUsageByAgent(options),
      this.getTopUsers(options),
      this.getTopThreads(options),
    ]);
    return { overall, byProvider, byModel, byAgent, topUsers, topThreads };
  }

  /** Raw records, newest first, with keyset paging that survives concurrent writes. */
  async getAllUsage(options: ListOptions = {}): Promise<RecordPage> {
    const limit = pageSize(options.limit);
    const range = resolveRange(options);
    const filter: RecordFilter = { ...range };
    for (const key of ["userId", "threadId", "model", "agentName", "provider"] as const) {
      if (options[key] !== undefined) filter[key] = requireId(options[key], key);
    }
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    // One more than asked tells whether a next page exists without a second query.
    const records = await this.store.list(filter, { limit: limit + 1, after });
    const page = records.slice(0, limit);
    const last = page[page.length - 1];
    return records.length > limit && last ? { records: page, cursor: encodeCursor(last) } : { records: page };
  }

  private async stats(filter: RecordFilter, options: QueryOptions, wholeLife = false): Promise<TokenUsageStats> {
    const timeZone = assertTimeZone(options.timeZone ?? "UTC");
    let range = resolveRange(options);
    const rows = await this.aggregate({ ...filter, ...range }, ["model", "agent"]);
    if (wholeLife) {
      // A thread's life, not the 25 years since the range's floor, sets the trend's days.
      const t = totalsOf(rows);
      if (t.firstSeen === null || t.lastSeen === null) return statsFromRows(rows, { start: range.end, end: range.end }, timeZone, "day", []);
      range = { start: t.firstSeen, end: new Date(Date.parse(t.lastSeen) + 1).toISOString() };
    }
    return statsFromRows(rows, range, timeZone, "day", await this.trendRows(filter, range, timeZone));
  }

  /** Rows for a trend: whole UTC days when the zone is UTC, hours otherwise. */
  private trendRows(filter: RecordFilter, range: ResolvedRange, timeZone: string): Promise<AggregateRow[]> {
    return this.aggregate({ ...filter, ...range }, [timeZone === "UTC" ? "day" : "hour"]);
  }

  private async grouped(options: QueryOptions & { userId?: string }, groupBy: GroupKey[]): Promise<AggregateRow[]> {
    const range = resolveRange(options);
    const filter: RecordFilter = options.userId === undefined ? {} : { userId: requireId(options.userId, "userId") };
    return this.aggregate({ ...filter, ...range }, groupBy);
  }
}

export function totalsOf(rows: AggregateRow[]): UsageTotals {
  return rows.reduce((acc, row) => addTotals(acc, row), emptyTotals());
}

function view(row: AggregateRow, key: string | null): GroupedUsage {
  return { key, ...totalsToStats(row) };
}

function byCost(a: GroupedUsage, b: GroupedUsage): number {
  return b.totalCostNanos - a.totalCostNanos || b.totalTokens - a.totalTokens;
}

function requireId(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") throw new ValidationError(field, `must be a non-empty string, got ${typeof value}`);
  if (value.length > 1024) throw new ValidationError(field, "is longer than 1024 characters");
  return value;
}

function pageSize(limit: unknown): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
    throw new ValidationError("limit", `must be a whole number of at least 1 (values above ${MAX_PAGE_SIZE} are clamped), got ${String(limit)}`);
  }
  return Math.min(limit, MAX_PAGE_SIZE);
}

function clampLimit(limit: number): number {
  return pageSize(limit);
}

