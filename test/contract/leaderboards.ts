/**
 * Leaderboards through the store contract: `getTopUsers` / `getTopThreads` must equal
 * the reference (every record of the range grouped in memory, in `compareLeaders` order),
 * whether the store offers the per-day fast path or not, for ranges cut anywhere, and
 * after late records, re-pricing and pruning change days a leaderboard already read.
 */
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { compareLeaders } from "../../src/query/leaderboard.js";
import { UsageQueries } from "../../src/query/usage-queries.js";
import type { UsageRecord } from "../../src/record/types.js";
import { aggregateInMemory, type UsageStore } from "../../src/stores/types.js";
import { makeRecord, seededRandom } from "./make-record.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** `count` records over `days` days from `base`: a few big spenders, many similar small ones, cost ties. */
export function leaderDataset(seed: number, base: number, days: number, count: number, tag: string): UsageRecord[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const big = rnd() < 0.2;
    const user = big ? `big${Math.floor(rnd() * 2)}-${tag}` : `u${Math.floor(rnd() * 15)}-${tag}`;
    // Costs from a small set, so users and threads tie on cost (and then on tokens).
    const cost = [1_000, 2_000, 2_000, 5_000, 13_000][Math.floor(rnd() * 5)] * (big ? 3 : 1);
    const tokens = [100, 100, 250][Math.floor(rnd() * 3)];
    return makeRecord({
      id: `lb-${tag}-${i}`,
      userId: user,
      threadId: rnd() < 0.15 ? null : `${user}-t${Math.floor(rnd() * 4)}`,
      timestamp: new Date(base + Math.floor(rnd() * days * DAY)).toISOString(),
      inputTokens: tokens,
      outputTokens: 0,
      totalTokens: tokens,
      inputCostNanos: cost,
      outputCostNanos: 0,
      totalCostNanos: cost,
    });
  });
}

export function expectedLeaders(records: UsageRecord[], entity: "user" | "thread", start: string, end: string, limit: number) {
  const rows = aggregateInMemory(records, { filter: { start, end }, groupBy: entity === "user" ? ["user"] : ["thread", "user"] });
  return rows
    .filter((r) => entity === "user" || r.key.thread !== null)
    .sort(compareLeaders)
    .slice(0, limit)
    .map((r) => ({ key: entity === "user" ? r.key.user : r.key.thread, cost: r.costNanos, requests: r.requests, tokens: r.totalTokens }));
}

export async function actualLeaders(q: UsageQueries, entity: "user" | "thread", start: string, end: string, limit: number) {
  const rows = entity === "user" ? await q.getTopUsers({ start, end, limit }) : await q.getTopThreads({ start, end, limit });
  return rows.map((r) => ({ key: r.key, cost: r.totalCostNanos, requests: r.totalRequests, tokens: r.totalTokens }));
}

/** Ranges over `[base, base + days)`: whole, day-aligned, cut mid-hour, a sliver, inside one day. */
export function leaderRanges(base: number, days: number): Array<[string, string]> {
  const iso = (ms: number) => new Date(ms).toISOString();
  const midnight = Math.ceil(base / DAY) * DAY;
  return [
    [iso(base), iso(base + days * DAY)],
    [iso(midnight), iso(midnight + 2 * DAY)],
    [iso(base + 5 * HOUR + 1_234), iso(base + (days - 1) * DAY - 17 * 60_000)],
    [iso(midnight - 1_500), iso(midnight + 2 * DAY + 999)],
    [iso(midnight + 3 * HOUR + 7), iso(midnight + 9 * HOUR)],
  ];
}

export function describeLeaderboardContract(getStore: () => UsageStore): void {
  describe("leaderboards", () => {
    const t = randomUUID().slice(0, 8);
    // Whole days of their own, far from every other test's window.
    const base = Date.UTC(2200, 0, 1) + Math.floor(Math.random() * 300_000) * DAY + 7 * HOUR;
    let data: UsageRecord[];
    let q: UsageQueries;
    beforeAll(async () => {
      data = leaderDataset(11, base, 5, 400, t);
      await getStore().append(data);
      q = new UsageQueries(getStore());
    });

    const check = async (records: UsageRecord[], limits = [1, 3, 1000]) => {
      for (const [start, end] of leaderRanges(base, 5)) {
        for (const entity of ["user", "thread"] as const) {
          for (const limit of limits) {
            expect(await actualLeaders(q, entity, start, end, limit), `${entity} ${start}..${end} top ${limit}`).toEqual(
              expectedLeaders(records, entity, start, end, limit),
            );
          }
        }
      }
    };

    it("top users and threads equal the reference over ranges cut anywhere", async () => {
      await check(data);
    });

    it("stay exact after late records, re-pricing and pruning on days already ranked", async () => {
      await check(data, [3]); // leaderboards over these ranges have been read (and any window built)
      const midnight = Math.ceil(base / DAY) * DAY;
      const late = leaderDataset(12, midnight, 2, 60, `${t}-late`).map((r, i) => ({
        ...r,
        id: `lb-late-${t}-${i}`,
        userId: data[i].userId,
        threadId: data[i].threadId,
      }));
      await getStore().append(late);
      let now = [...data, ...late];
      await check(now, [3, 1000]);

      const repriced = now.filter((_, i) => i % 9 === 0);
      await getStore().updateCosts(
        repriced.map((r, i) => ({ id: r.id, userId: r.userId, inputCostNanos: 40_000 * (i % 3), outputCostNanos: 0, totalCostNanos: 40_000 * (i % 3), priced: true, priceSource: "override" })),
      );
      const newCost = new Map(repriced.map((r, i) => [r.id, 40_000 * (i % 3)]));
      now = now.map((r) => (newCost.has(r.id) ? { ...r, inputCostNanos: newCost.get(r.id)!, totalCostNanos: newCost.get(r.id)! } : r));
      await check(now, [3, 1000]);

      // The top spender loses most of its records: a leaderboard still ranking it by what it had would be wrong.
      const cut = new Date(midnight + 40 * HOUR + 30 * 60_000).toISOString();
      const [start, end] = leaderRanges(base, 5)[0];
      const user = expectedLeaders(now, "user", start, end, 1)[0].key!;
      await getStore().prune(cut, { userId: user });
      now = now.filter((r) => !(r.userId === user && r.timestamp < cut));
      await check(now, [3, 1000]);
    });
  });
}
