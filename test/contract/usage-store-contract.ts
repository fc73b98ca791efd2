/**
 * The one suite every UsageStore backend must pass. A backend's test file calls
 * `describeUsageStoreContract(name, makeStore, { capabilities })`.
 *
 * Safe on a shared, long-lived database: every test writes its own users, ids and
 * a time window of its own (a random hour far in the future), and only reads back
 * through filters on those. Expected answers come from the reference semantics in
 * `src/stores/types.ts` (`matchesFilter`, `aggregateInMemory`), never from the
 * backend under test.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nanosToUsd } from "../../src/record/mapping.js";
import type { UsageRecord } from "../../src/record/types.js";
import {
  aggregateInMemory,
  matchesFilter,
  type AggregateQuery,
  type AggregateRow,
  type GroupKey,
  type RecordFilter,
  type StoreCapabilities,
  type UsageStore,
} from "../../src/stores/types.js";
import { describeLeaderboardContract } from "./leaderboards.js";
import { makeRecord, seededRandom } from "./make-record.js";

export interface ContractOptions {
  /** What the backend declares; checked against `store.capabilities`, never used to skip. */
  capabilities: StoreCapabilities;
  /**
   * A backend that judges budget leases by its own clock (Cosmos DB: the answer's `Date`)
   * lets the suite set that clock to each call's `now`, so the same time travel runs on
   * every backend. Without it the backend judges by the caller's `now`.
   */
  storeClock?: (at: number) => void;
  /**
   * The backend judges by a clock nobody can move (a real Cosmos DB account): the two tests
   * that travel in time run only where the clock can be set (SQLite, the local server).
   */
  storeClockFixed?: boolean;
}

const HOUR = 3_600_000;

/** A window of `hours` hours starting at a random whole hour between 2030 and ~2140. */
function uniqueWindow(hours: number): { start: string; end: string; at: (ms: number) => string } {
  const base = Date.UTC(2030, 0, 1) + Math.floor(Math.random() * 1_000_000) * HOUR;
  return {
    start: new Date(base).toISOString(),
    end: new Date(base + hours * HOUR).toISOString(),
    at: (ms: number) => new Date(base + ms).toISOString(),
  };
}

const tag = () => randomUUID().slice(0, 8);

function byNewest(a: UsageRecord, b: UsageRecord): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Rows in a canonical order, so two answers compare with toEqual. */
function canonical(rows: AggregateRow[]): AggregateRow[] {
  return rows
    .map((r) => ({ ...r, key: { ...r.key } }))
    .sort((a, b) => {
      const ka = JSON.stringify(Object.entries(a.key).sort());
      const kb = JSON.stringify(Object.entries(b.key).sort());
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
}

/** A varied dataset: 3 users, several providers/models/agents/threads, ties, flags, dimensions. */
function randomDataset(seed: number, win: ReturnType<typeof uniqueWindow>, n: number): UsageRecord[] {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const t = tag();
  const users = [`u1-${t}`, `u2-${t}`, `u3-${t}`];
  const threads = [`th1-${t}`, `th2-${t}`, null];
  const providers = ["openai", "anthropic", "google"];
  const models = ["model-a", "model-b", "model-c"];
  const agents = ["planner", "coder", null];
  const ops = ["chat", "llm", "embedding"] as const;
  const out: UsageRecord[] = [];
  for (let i = 0; i < n; i++) {
    const input = Math.floor(rnd() * 5000);
    const output = Math.floor(rnd() * 900);
    const inputCostNanos = Math.floor(rnd() * 3_000_000);
    const outputCostNanos = Math.floor(rnd() * 9_000_000);
    const dims: Record<string, string> = {};
    if (rnd() < 0.6) dims.tenant = pick(["acme", "globex"]);
    if (rnd() < 0.3) dims.feature = pick(["search", "chat"]);
    // Minutes from the window start, snapped so that timestamps sometimes collide.
    const minute = Math.floor(rnd() * 60 * 50);
    out.push(
      makeRecord({
        id: `r-${t}-${String(i).padStart(3, "0")}`,
        userId: pick(users),
        threadId: pick(threads),
        agentName: pick(agents),
        provider: pick(providers),
        model: pick(models),
        operationType: pick(ops),
        timestamp: win.at((minute - (minute % 7)) * 60_000 + (rnd() < 0.5 ? 0 : 123)),
        inputTokens: input,
        outputTokens: output,
        totalTokens: input + output,
        cacheReadTokens: Math.floor(input * rnd() * 0.3),
        cacheWriteTokens: rnd() < 0.2 ? 64 : 0,
        reasoningTokens: rnd() < 0.3 ? Math.floor(output / 2) : 0,
        inputCostNanos,
        outputCostNanos,
        totalCostNanos: inputCostNanos + outputCostNanos,
        inputCost: nanosToUsd(inputCostNanos),
        outputCost: nanosToUsd(outputCostNanos),
        totalCost: nanosToUsd(inputCostNanos + outputCostNanos),
        priced: rnd() > 0.15,
        estimated: rnd() < 0.1,
        cached: rnd() < 0.1,
        error: rnd() < 0.1,
        errorMessage: null,
        dimensions: dims,
        tags: rnd() < 0.5 ? ["a", "b"] : [],
      }),
    );
  }
  return out;
}

export function describeUsageStoreContract(
  name: string,
  makeStore: () => Promise<UsageStore>,
  opts: ContractOptions,
): void {
  describe(`UsageStore contract: ${name}`, () => {
    let store: UsageStore;
    beforeAll(async () => {
      store = await makeStore();
    });
    afterAll(async () => {
      await store?.close();
    });

    it("declares its capabilities", () => {
      expect(store.capabilities).toEqual(opts.capabilities);
      expect(typeof store.kind).toBe("string");
    });

    describe("append and idempotency", () => {
      it("stores a batch once and counts replays as duplicates", async () => {
        const userId = `idem-${tag()}`;
        const records = Array.from({ length: 12 }, (_, i) =>
          makeRecord({ userId, timestamp: `2031-02-03T04:05:${String(i).padStart(2, "0")}.000Z` }),
        );
        expect(await store.append(records)).toEqual({ inserted: 12, duplicates: 0 });
        expect(await store.append(records)).toEqual({ inserted: 0, duplicates: 12 });
        const extra = makeRecord({ userId, timestamp: "2031-02-03T04:06:00.000Z" });
        expect(await store.append([records[0], extra, records[5]])).toEqual({ inserted: 1, duplicates: 2 });
        const stored = await store.list({ userId }, { limit: 100 });
        expect(stored).toHaveLength(13);
        const [row] = await store.aggregate({ filter: { userId }, groupBy: [] });
        expect(row.requests).toBe(13);
        expect(row.costNanos).toBe([...records, extra].reduce((s, r) => s + r.totalCostNanos, 0));
      });

      it("treats the same id twice in one batch as one record", async () => {
        const userId = `dup-${tag()}`;
        const r = makeRecord({ userId });
        expect(await store.append([r, r])).toEqual({ inserted: 1, duplicates: 1 });
        expect(await store.list({ userId }, { limit: 10 })).toHaveLength(1);
      });

      it("accepts an empty batch", async () => {
        expect(await store.append([])).toEqual({ inserted: 0, duplicates: 0 });
      });

      it("rejects a record without an id with a validation error", async () => {
        const bad = makeRecord({ id: "" });
        await expect(store.append([bad])).rejects.toMatchObject({ code: "ERR_VALIDATION" });
      });
    });

    describe("get", () => {
      it("round-trips every field, with and without the user id", async () => {
        const r = makeRecord({
          userId: `get-${tag()}`,
          threadId: null,
          agentName: null,
          deployment: "my-deployment",
          runId: randomUUID(),
          parentRunId: randomUUID(),
          tags: ["x", "y"],
          dimensions: { tenant: "acme", feature: "search" },
          requestMetadata: { route: "/chat", nested: { n: 1, list: [1, "two"] } },
          error: true,
          errorMessage: "rate limited",
          estimated: true,
          priced: false,
          priceSource: null,
          inputCostNanos: 0,
          outputCostNanos: 0,
          totalCostNanos: 0,
          inputCost: 0,
          outputCost: 0,
          totalCost: 0,
          latencyMs: null,
          cacheReadTokens: 40,
          cacheWriteTokens: 8,
          reasoningTokens: 12,
          operationType: "embedding",
        });
        await store.append([r]);
        expect(await store.get(r.id, r.userId)).toEqual(r);
        expect(await store.get(r.id)).toEqual(r);
      });

      it("answers null for an unknown id", async () => {
        expect(await store.get(`missing-${tag()}`)).toBeNull();
        expect(await store.get(`missing-${tag()}`, `nobody-${tag()}`)).toBeNull();
      });
    });

    describe("list and keyset paging", () => {
      it("pages newest first by (timestamp desc, id desc), ties included", async () => {
        const userId = `page-${tag()}`;
        const win = uniqueWindow(2);
        // 23 records on 7 distinct timestamps: plenty of ties, some across page edges.
        const records = Array.from({ length: 23 }, (_, i) =>
          makeRecord({ id: `p-${tag()}-${i % 5}`, userId, timestamp: win.at((i % 7) * 1000) }),
        );
        await store.append(records);
        const expected = [...records].sort(byNewest);
        for (const limit of [1, 4, 7, 23, 50]) {
          const seen: UsageRecord[] = [];
          let after: { timestamp: string; id: string } | undefined;
          for (let guard = 0; guard < 30; guard++) {
            const page = await store.list({ userId }, { limit, after });
            expect(page.length).toBeLessThanOrEqual(limit);
            seen.push(...page);
            if (page.length < limit) break;
            const last = page[page.length - 1];
            after = { timestamp: last.timestamp, id: last.id };
          }
          expect(seen.map((r) => r.id)).toEqual(expected.map((r) => r.id));
        }
      });

      it("applies every filter, with and without a user", async () => {
        const win = uniqueWindow(60);
        const data = randomDataset(7, win, 60);
        await store.append(data);
        const [u1] = [...new Set(data.map((r) => r.userId))];
        const thread = data.find((r) => r.threadId)!.threadId!;
        const filters: RecordFilter[] = [
          { userId: u1 },
          { threadId: thread },
          { userId: u1, threadId: thread },
          { start: win.start, end: win.end, provider: "anthropic" },
          { start: win.start, end: win.end, model: "model-b", agentName: "coder" },
          { userId: u1, start: win.at(HOUR * 5 + 17_000), end: win.at(HOUR * 30 + 1) },
        ];
        for (const f of filters) {
          const expected = data.filter((r) => matchesFilter(r, f)).sort(byNewest);
          const got = await store.list(f, { limit: 1000 });
          expect(got.map((r) => r.id), JSON.stringify(f)).toEqual(expected.map((r) => r.id));
          const limited = await store.list(f, { limit: 3 });
          expect(limited.map((r) => r.id)).toEqual(expected.slice(0, 3).map((r) => r.id));
        }
      });
    });

    describe("aggregate", () => {
      const win = uniqueWindow(60);
      let data: UsageRecord[];
      beforeAll(async () => {
        data = randomDataset(42, win, 90);
        await store.append(data);
      });

      const groupings: GroupKey[][] = [
        [],
        ["user"],
        ["thread"],
        ["provider"],
        ["model"],
        ["agent"],
        ["operation"],
        ["hour"],
        ["day"],
        ["dimension:tenant"],
        ["dimension:feature", "user"],
        ["user", "model"],
        ["day", "provider", "operation"],
        ["hour", "agent"],
        ["thread", "dimension:tenant"],
      ];

      it("matches the reference for every group key over the window", async () => {
        for (const groupBy of groupings) {
          const q: AggregateQuery = { filter: { start: win.start, end: win.end }, groupBy };
          expect(canonical(await store.aggregate(q)), groupBy.join(",")).toEqual(canonical(aggregateInMemory(data, q)));
        }
      });

      it("matches the reference under filters (hour-aligned and not)", async () => {
        const users = [...new Set(data.map((r) => r.userId))];
        const thread = data.find((r) => r.threadId)!.threadId!;
        const filters: RecordFilter[] = [
          { userId: users[0] },
          { userId: users[1], start: win.at(HOUR * 3), end: win.at(HOUR * 40) },
          { userId: users[1], start: win.at(HOUR * 3 + 1), end: win.at(HOUR * 40 - 1) },
          { threadId: thread },
          { userId: users[2], threadId: thread },
          { start: win.start, end: win.end, provider: "openai", model: "model-a" },
          { start: win.start, end: win.end, agentName: "planner" },
          { start: win.at(HOUR * 10), end: win.at(HOUR * 11) },
        ];
        for (const filter of filters) {
          for (const groupBy of [[], ["user", "hour"], ["model"], ["dimension:tenant"]] as GroupKey[][]) {
            const q = { filter, groupBy };
            expect(canonical(await store.aggregate(q)), JSON.stringify(q)).toEqual(
              canonical(aggregateInMemory(data, q)),
            );
          }
        }
      });

      it("returns no rows for an empty selection", async () => {
        expect(await store.aggregate({ filter: { userId: `nobody-${tag()}` }, groupBy: ["model"] })).toEqual([]);
        expect(await store.aggregate({ filter: { userId: `nobody-${tag()}` }, groupBy: [] })).toEqual([]);
      });

      it("is unchanged by rebuildRollups", async () => {
        const q: AggregateQuery = { filter: { start: win.start, end: win.end }, groupBy: ["user", "hour", "model"] };
        const before = canonical(await store.aggregate(q));
        await store.rebuildRollups();
        expect(canonical(await store.aggregate(q))).toEqual(before);
        expect(before).toEqual(canonical(aggregateInMemory(data, q)));
      });
    });

    describe("updateCosts", () => {
      it("re-prices records and keeps aggregates consistent", async () => {
        const win = uniqueWindow(6);
        const data = randomDataset(99, win, 20);
        await store.append(data);
        const [a, b] = data;
        const changed = await store.updateCosts([
          { id: a.id, userId: a.userId, inputCostNanos: 1_000, outputCostNanos: 2_000, totalCostNanos: 3_000, priced: true, priceSource: "override" },
          { id: b.id, userId: b.userId, inputCostNanos: 7, outputCostNanos: 0, totalCostNanos: 7, priced: true, priceSource: "override" },
          { id: `missing-${tag()}`, userId: a.userId, inputCostNanos: 1, outputCostNanos: 1, totalCostNanos: 2, priced: true, priceSource: null },
        ]);
        expect(changed).toBe(2);
        const got = await store.get(a.id, a.userId);
        expect(got).toMatchObject({ totalCostNanos: 3_000, totalCost: 3e-6, inputCost: 1e-6, priced: true, priceSource: "override" });
        const updated = data.map((r) =>
          r.id === a.id
            ? { ...r, inputCostNanos: 1_000, outputCostNanos: 2_000, totalCostNanos: 3_000, priced: true }
            : r.id === b.id
              ? { ...r, inputCostNanos: 7, outputCostNanos: 0, totalCostNanos: 7, priced: true }
              : r,
        );
        for (const filter of [{ start: win.start, end: win.end }, { start: win.at(1), end: win.end }] as RecordFilter[]) {
          const q: AggregateQuery = { filter, groupBy: ["user", "model"] };
          expect(canonical(await store.aggregate(q))).toEqual(canonical(aggregateInMemory(updated, q)));
        }
      });
    });

    describe("prune", () => {
      it("deletes one user's old records and their share of aggregates", async () => {
        const win = uniqueWindow(10);
        const data = randomDataset(5, win, 40);
        await store.append(data);
        const user = data[0].userId;
        const cut = win.at(HOUR * 4 + 30 * 60_000);
        const doomed = data.filter((r) => r.userId === user && r.timestamp < cut);
        expect(await store.prune(cut, { userId: user })).toBe(doomed.length);
        const left = data.filter((r) => !doomed.includes(r));
        const mine = await store.list({ userId: user }, { limit: 1000 });
        expect(mine.map((r) => r.id)).toEqual(left.filter((r) => r.userId === user).sort(byNewest).map((r) => r.id));
        for (const groupBy of [["user"], ["user", "hour"]] as GroupKey[][]) {
          const q: AggregateQuery = { filter: { start: win.start, end: win.end }, groupBy };
          expect(canonical(await store.aggregate(q))).toEqual(canonical(aggregateInMemory(left, q)));
        }
        expect(await store.prune(cut, { userId: user })).toBe(0);
      });

      it("deletes old records of every user without a filter", async () => {
        // An old window of its own, so a shared database loses nothing but this test's data.
        const base = Date.UTC(1971, 0, 1) + Math.floor(Math.random() * 8000) * HOUR;
        const t = tag();
        const old = Array.from({ length: 6 }, (_, i) =>
          makeRecord({ userId: `old${i % 3}-${t}`, timestamp: new Date(base + i * 60_000).toISOString() }),
        );
        const keep = makeRecord({ userId: `old0-${t}`, timestamp: new Date(base + HOUR).toISOString() });
        await store.append([...old, keep]);
        expect(await store.prune(new Date(base + 10 * 60_000).toISOString())).toBeGreaterThanOrEqual(6);
        for (const r of old) expect(await store.get(r.id, r.userId)).toBeNull();
        expect(await store.get(keep.id, keep.userId)).toEqual(keep);
        const rows = await store.aggregate({ filter: { userId: `old0-${t}` }, groupBy: [] });
        expect(rows.map((r) => r.requests)).toEqual([1]);
      });
    });

    describeLeaderboardContract(() => store);

    describe("settings and claimOnce", () => {
      it("puts, gets, lists, overwrites and deletes", async () => {
        const ns = `ns-${tag()}`;
        expect(await store.getSetting(ns, "a")).toBeNull();
        await store.putSetting(ns, "a", { limit: 10, nested: ["x"] });
        await store.putSetting(ns, "b", 42);
        await store.putSetting(ns, "c", "text");
        await store.putSetting(`${ns}-other`, "a", true);
        expect(await store.getSetting(ns, "a")).toEqual({ limit: 10, nested: ["x"] });
        await store.putSetting(ns, "a", { limit: 11 });
        expect(await store.getSetting(ns, "a")).toEqual({ limit: 11 });
        expect(await store.listSettings(ns)).toEqual([
          { key: "a", value: { limit: 11 } },
          { key: "b", value: 42 },
          { key: "c", value: "text" },
        ]);
        expect(await store.deleteSetting(ns, "b")).toBe(true);
        expect(await store.deleteSetting(ns, "b")).toBe(false);
        expect((await store.listSettings(ns)).map((s) => s.key)).toEqual(["a", "c"]);
        expect(await store.getSetting(`${ns}-other`, "a")).toBe(true);
      });

      it("claims a key exactly once, also under concurrency", async () => {
        const ns = `claim-${tag()}`;
        expect(await store.claimOnce(ns, "k1")).toBe(true);
        expect(await store.claimOnce(ns, "k1")).toBe(false);
        const results = await Promise.all(Array.from({ length: 6 }, () => store.claimOnce(ns, "k2")));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.claimOnce(`${ns}-b`, "k1")).toBe(true);
      });
    });

    describe("budget counters", () => {
      // Each call runs with the store's clock (where it has one) at the call's `now`.
      const counters = {
        update(updates: import("../../src/stores/types.js").BudgetCounterUpdate[]) {
          opts.storeClock?.(updates[0].now);
          return store.updateBudgetCounters(updates);
        },
        read(keys: Array<{ key: string; partition: string }>, now: number) {
          opts.storeClock?.(now);
          return store.readBudgetCounters(keys, now);
        },
      };
      const update = (key: string, holder: string, over: Partial<import("../../src/stores/types.js").BudgetCounterUpdate> = {}) => ({
        key,
        partition: `u-${key}`,
        expiresAt: Date.now() + HOUR,
        limit: 1000,
        seed: 100,
        holder,
        spent: 0,
        inFlight: 0,
        want: 0,
        need: 0,
        keep: 0,
        leaseUntil: Date.now() + 30_000,
        now: Date.now(),
        ...over,
      });

      it.skipIf(opts.storeClockFixed === true)("creates from the seed, grants leases within what is free, settles spend and drops expired leases", async () => {
        const key = `bc-${tag()}`;
        const p = `u-${key}`;
        expect(await counters.read([{ key, partition: p }], Date.now())).toEqual([null]);
        const [a] = await counters.update([update(key, "A", { want: 600, need: 600 })]);
        expect(a).toMatchObject({ used: 100, leased: 600, granted: 600 });
        // B needs 200 of the 300 free: it gets that plus a quarter of the rest (within its want).
        const [b] = await counters.update([update(key, "B", { want: 500, need: 200, inFlight: 50 })]);
        expect(b).toMatchObject({ used: 100, leased: 825, granted: 225, inFlight: 50 });
        // A settles 250 of its lease and needs 700: not free, so it keeps what it still hands out.
        const [a2] = await counters.update([update(key, "A", { spent: 250, want: 800, need: 700, keep: 20, inFlight: 20 })]);
        expect(a2).toMatchObject({ used: 350, granted: 20, leased: 245 });
        // A lease past its time no longer counts.
        const later = Date.now() + 60_000;
        const [read] = await counters.read([{ key, partition: p }], later);
        expect(read).toMatchObject({ used: 350, leased: 0, inFlight: 0 });
      });

      it("never grants the same room twice under concurrency", async () => {
        const key = `bc-${tag()}`;
        const grants = await Promise.all(
          Array.from({ length: 8 }, (_, i) => counters.update([update(key, `H${i}`, { seed: 0, want: 300, need: 300 })])),
        );
        const total = grants.reduce((n, [g]) => n + g.granted, 0);
        expect(total).toBeLessThanOrEqual(1000);
        expect(total).toBe(900);
      });

      it.skipIf(opts.storeClockFixed === true)("keeps a rolling window in buckets: usage leaves a bucket at a time, and room that left is granted again", async () => {
        const key = `bc-roll-${tag()}`;
        const p = `u-${key}`;
        const rolling = { windowMs: HOUR, bucketMs: 60_000 };
        // Bucket-aligned times, so the test does not depend on when it runs.
        const t0 = Math.floor(Date.now() / 60_000) * 60_000;
        const b0 = t0 / 60_000;
        const at = (now: number, over: Partial<import("../../src/stores/types.js").BudgetCounterUpdate>) =>
          update(key, "A", { rolling, now, leaseUntil: now + 30_000, expiresAt: now + HOUR, seed: 0, ...over });
        // Created from a seed of 300 in the bucket 30 minutes back, then 200 spent now.
        const [first] = await counters.update([at(t0, { seed: 300, seedBuckets: [[b0 - 30, 300]] })]);
        expect(first).toMatchObject({ used: 300, created: true });
        const [a] = await counters.update([at(t0 + 1000, { spent: 200, spentBuckets: [[b0, 200]], need: 400, want: 400 })]);
        expect(a).toMatchObject({ used: 500, granted: 400, leased: 400 });
        // B asks for more than is free (1000 - 500 - 400 = 100): it gets nothing.
        const [b] = await counters.update([{ ...at(t0 + 2000, { need: 200, want: 200 }), holder: "B" }]);
        expect(b.granted).toBe(0);
        // 31 minutes later the seeded bucket has left the window (it ended 30 minutes after t0 - 29 min).
        const later = t0 + 31 * 60_000;
        const [read] = await counters.read([{ key, partition: p }], later);
        expect(read).toMatchObject({ used: 200 });
        expect(read!.buckets).toEqual([[b0, 200]]);
        // Just before, it still counted: a bucket counts while any part of it is in the window.
        const [before] = await counters.read([{ key, partition: p }], t0 + 30 * 60_000 - 1);
        expect(before).toMatchObject({ used: 500 });
        const [b2] = await counters.update([{ ...at(later, { need: 200, want: 200 }), holder: "B" }]);
        expect(b2).toMatchObject({ used: 200, granted: 200 });
        // An hour after the spend, nothing is left in the window and the old buckets are gone from the counter.
        const [gone] = await counters.update([at(t0 + 2 * HOUR, {})]);
        expect(gone).toMatchObject({ used: 0 });
        expect(gone.buckets).toEqual([]);
      });

      it("applies a numbered report once: a resend after a lost answer settles nothing again and is told what the first got", async () => {
        const key = `bc-seq-${tag()}`;
        const p = `u-${key}`;
        const [created] = await counters.update([update(key, "A", { seq: 1, spent: 40, want: 200, need: 200 })]);
        expect(created).toMatchObject({ used: 140, granted: 200, created: true });
        // The same report again (its answer was lost): no usage added, still told it created the counter.
        const [again] = await counters.update([update(key, "A", { seq: 1, spent: 40, want: 200, need: 200, keep: 200 })]);
        expect(again).toMatchObject({ used: 140, granted: 200, created: true });
        const [next] = await counters.update([update(key, "A", { seq: 2, spent: 60, want: 200, need: 100, keep: 140 })]);
        expect(next).toMatchObject({ used: 200, created: false });
        // An older number is never applied again either; another holder's number 1 is its own.
        const [old] = await counters.update([update(key, "A", { seq: 1, spent: 40 })]);
        expect(old.used).toBe(200);
        const [b] = await counters.update([update(key, "B", { seq: 1, spent: 5 })]);
        expect(b).toMatchObject({ used: 205, created: false });
        const [read] = await counters.read([{ key, partition: p }], Date.now());
        expect(read!.used).toBe(205);
      });

      it("applies a numbered rolling report's buckets once", async () => {
        const key = `bc-seq-roll-${tag()}`;
        const rolling = { windowMs: HOUR, bucketMs: 60_000 };
        const now = Date.now();
        const b0 = Math.floor(now / 60_000);
        const r = (seq: number) => update(key, "A", { rolling, seq, seed: 0, seedBuckets: [], spent: 30, spentBuckets: [[b0, 30]] });
        await counters.update([r(1)]);
        const [again] = await counters.update([r(1)]);
        expect(again.used).toBe(30);
        expect(again.buckets).toEqual([[b0, 30]]);
        const [next] = await counters.update([r(2)]);
        expect(next.buckets).toEqual([[b0, 60]]);
      });
    });

    describe("user-supplied strings are data", () => {
      const nasty = [
        "it's",
        'say "hi"',
        "' OR 1=1 --",
        "\" OR \"\"=\"",
        "x'); DROP TABLE token_usage; --",
        "@userId",
        "a/b\\c?d#e%20f",
        "日本語-ユーザー",
        "emoji-🚀-✓",
        " leading and trailing ",
        "k".repeat(1024),
      ];

      it("stores, finds and filters records whose ids, users and threads are hostile strings", async () => {
        const t = tag();
        const innocent = makeRecord({ userId: `innocent-${t}`, threadId: `innocent-thread-${t}` });
        const records = nasty.map((s, i) =>
          makeRecord({ id: `${s}-${t}`, userId: `${s}-${t}`, threadId: `${s}-th-${t}`, timestamp: `2032-01-01T00:00:${String(i).padStart(2, "0")}.000Z`, dimensions: { tenant: s } }),
        );
        expect(await store.append([innocent, ...records])).toEqual({ inserted: records.length + 1, duplicates: 0 });
        expect(await store.append(records)).toEqual({ inserted: 0, duplicates: records.length });
        for (const r of records) {
          expect(await store.get(r.id, r.userId)).toEqual(r);
          expect(await store.get(r.id)).toEqual(r);
          expect((await store.list({ userId: r.userId }, { limit: 10 })).map((x) => x.id)).toEqual([r.id]);
          expect((await store.list({ threadId: r.threadId! }, { limit: 10 })).map((x) => x.id)).toEqual([r.id]);
          const rows = await store.aggregate({ filter: { userId: r.userId }, groupBy: ["dimension:tenant", "user"] });
          expect(rows).toHaveLength(1);
          expect(rows[0].key).toEqual({ "dimension:tenant": r.dimensions.tenant, user: r.userId });
          expect(rows[0].requests).toBe(1);
        }
        const ns = `ns-${t}`;
        for (const s of nasty) await store.putSetting(ns, s, s);
        expect((await store.listSettings<string>(ns)).map((x) => x.value).sort()).toEqual([...nasty].sort());
        expect(await store.claimOnce(ns, nasty[2])).toBe(true);
        expect(await store.claimOnce(ns, nasty[2])).toBe(false);
      });
    });

    describe("close", () => {
      it("refuses use after close", async () => {
        const s = await makeStore();
        await s.close();
        await expect(s.append([makeRecord()])).rejects.toMatchObject({ code: "ERR_CLOSED" });
        await expect(s.list({}, { limit: 1 })).rejects.toMatchObject({ code: "ERR_CLOSED" });
      });
    });
  });
}
