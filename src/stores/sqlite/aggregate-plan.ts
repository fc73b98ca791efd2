/**
 * How the SQLite store answers an aggregate: from the hourly and daily rollups (per user for
 * heavy users, application-wide otherwise) when the range is whole hours and the keys are
 * ones they keep, from raw records otherwise, and both merged for a per-user breakdown of
 * everyone. Runs inside the caller's read transaction.
 */
import type Database from "better-sqlite3";
import type { AggregateQuery, AggregateRow } from "../types.js";
import { SOURCES, groupExpression, isHourAligned, mergeRows, splitAtDays, withRange, type AggregateTable } from "./aggregate-sql.js";
import type { RollupMaintainer } from "./rollup-maintainer.js";
import { HEAVY_USERS } from "./rollups.js";

const ROLLUP_KEYS: ReadonlySet<string> = new Set(["user", "provider", "model", "agent", "operation", "hour", "day"]);

export interface AggregateSource {
  rollups: RollupMaintainer;
  /** A prepared statement for `sql`, cached by the caller. */
  statement(sql: string): Database.Statement;
}

export class AggregatePlanner {
  constructor(private readonly source: AggregateSource) {}

  /** The answer to `query`, from rollups where they hold it, from raw records otherwise. */
  plan(query: AggregateQuery): AggregateRow[] {
    if (!this.canUseRollups(query)) return this.runAggregate("usage_records", query);
    const userId = query.filter.userId;
    if (userId !== undefined) {
      return this.source.rollups.isHeavy(userId) ? this.fromRollups("user", query) : this.runAggregate("usage_records", query);
    }
    if (!query.groupBy.includes("user")) return this.fromRollups("global", query);
    // By user, for everyone: heavy users from their rollups, the others from raw records.
    return [...this.fromRollups("user", query), ...this.runAggregate("usage_records", query, `user_id NOT IN ${HEAVY_USERS}`)];
  }

  /** Whole UTC days from a daily rollup, the hours around them from the hourly one. */
  private fromRollups(level: "user" | "global", query: AggregateQuery): AggregateRow[] {
    const hourlyTable: AggregateTable = level === "user" ? "usage_rollup_hourly" : "usage_global_hourly";
    const dailyTable: AggregateTable = level === "user" ? "usage_rollup_daily" : "usage_global_daily";
    if (query.groupBy.includes("hour")) return this.runAggregate(hourlyTable, query);
    const parts = splitAtDays(query.filter.start, query.filter.end);
    if (parts.days === null) return this.runAggregate(hourlyTable, query);
    const rows = [
      ...(parts.head ? this.runAggregate(hourlyTable, withRange(query, parts.head)) : []),
      ...this.runAggregate(dailyTable, withRange(query, parts.days)),
      ...(parts.tail ? this.runAggregate(hourlyTable, withRange(query, parts.tail)) : []),
    ];
    return mergeRows(rows, query.groupBy);
  }

  private runAggregate(table: AggregateTable, query: AggregateQuery, extraWhere?: string): AggregateRow[] {
    const source = SOURCES[table];
    const params: Record<string, unknown> = {};
    const selects = query.groupBy.map((key, i) => `${groupExpression(key, source.groups, params, i)} AS g${i}`);
    const { where, params: filterParams } = source.where(query.filter);
    if (extraWhere) where.push(extraWhere);
    Object.assign(params, filterParams);
    const sql = `SELECT ${[...selects, source.totals].join(", ")} FROM ${table}
      ${where.length ? "WHERE " + where.join(" AND ") : ""}
      ${selects.length ? "GROUP BY " + selects.map((_, i) => `g${i}`).join(", ") : ""}`;
    // Arrays, not objects: thousands of rows materialise noticeably faster.
    const rows = this.source.statement(sql).raw(true).all(params) as unknown[][];
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
}
