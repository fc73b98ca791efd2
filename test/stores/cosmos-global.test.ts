/**
 * The Cosmos store's application-wide views on the extended local server: the change-feed
 * consumer's global rollups are exact after a write, under two consumers at once, after a
 * consumer dies before its commit, after re-pricing and pruning (also racing a writer, and
 * before any consumer ran), after a rebuild; and what a global view reads stays flat as
 * the fleet grows.
 */
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import type { UsageRecord } from "../../src/record/types.js";
import { CosmosUsageStore } from "../../src/stores/cosmos/index.js";
import { aggregateInMemory, type AggregateQuery } from "../../src/stores/types.js";
import { makeRecord } from "../contract/make-record.js";
import { expectViewsExact, reprice, sortedRows, useGlobalStores } from "../support/cosmos-global-stores.js";
import { startFixture } from "../faults/support/children.js";
import { actualLeaders, expectedLeaders, leaderDataset, leaderRanges } from "../contract/leaderboards.js";
import { UsageQueries } from "../../src/query/usage-queries.js";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";

// Folding on every append keeps these tests short; the monitor test below uses flush().
const fleetStores = useGlobalStores();
const storeOn = fleetStores.storeOn;

const DAY0 = Date.UTC(2034, 2, 1);
const HOUR = 3_600_000;

/** Records of `users` users spread over `days` days, several models, agents and flags. */
function fleet(tag: string, users: number, perUser: number, days = 30): UsageRecord[] {
  const out: UsageRecord[] = [];
  for (let u = 0; u < users; u++) {
    for (let i = 0; i < perUser; i++) {
      const n = u * perUser + i;
      out.push(
        makeRecord({
          id: `${tag}-${u}-${i}`,
          userId: `${tag}-user-${u}`,
          threadId: `t-${u}-${i % 3}`,
          model: ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"][n % 3],
          provider: n % 3 === 2 ? "anthropic" : "openai",
          agentName: n % 4 === 0 ? null : `agent-${n % 2}`,
          operationType: n % 5 === 0 ? "embedding" : "chat",
          priced: n % 7 !== 0,
          cached: n % 6 === 0,
          timestamp: new Date(DAY0 + ((n * 7_919_000) % (days * 24 * HOUR)) + (n % 59) * 1000).toISOString(),
          inputTokens: 100 + (n % 50),
          outputTokens: 10 + (n % 17),
          inputCostNanos: 1000 + n,
          outputCostNanos: 500 + 3 * n,
          totalCostNanos: 1500 + 4 * n,
        }),
      );
    }
  }
  return out;
}

const RANGE = { start: new Date(DAY0).toISOString(), end: new Date(DAY0 + 30 * 24 * HOUR).toISOString() };
/** Starts and ends mid-hour: whole days, whole hours and two partial hours. */
const ODD_RANGE = { start: new Date(DAY0 + 5 * HOUR + 17 * 60_000).toISOString(), end: new Date(DAY0 + 20 * 24 * HOUR + 3 * HOUR + 41 * 60_000).toISOString() };

const VIEWS: AggregateQuery[] = [
  { filter: RANGE, groupBy: [] },
  { filter: RANGE, groupBy: ["model"] },
  { filter: RANGE, groupBy: ["provider", "model"] },
  { filter: RANGE, groupBy: ["agent"] },
  { filter: RANGE, groupBy: ["operation"] },
  { filter: RANGE, groupBy: ["day"] },
  { filter: RANGE, groupBy: ["hour"] },
  { filter: { ...RANGE, model: "gpt-4o" }, groupBy: ["day"] },
  { filter: ODD_RANGE, groupBy: [] },
  { filter: ODD_RANGE, groupBy: ["model", "day"] },
  { filter: {}, groupBy: ["provider"] },
];

const expectExact = (store: CosmosUsageStore, records: UsageRecord[], seen = true) => expectViewsExact(store, VIEWS, records, seen);
const documentsRead = fleetStores.documentsRead;
const sorted = sortedRows;

describe("global rollups after a write", () => {
  it("every global view is exact after append resolves, and reads the global rollups", async () => {
    const id = fleetStores.local.uniqueContainerId("g-exact");
    const store = storeOn(id);
    const records = fleet("a", 6, 25);
    await store.append(records.slice(0, 70));
    await store.append(records.slice(70));
    await expectExact(store, records);
    // 30 whole days: the day documents only (at most 30), not one per user-hour.
    const read = await documentsRead(store, { filter: RANGE, groupBy: ["model"] });
    expect(read.documents).toBeGreaterThan(0);
    expect(read.documents).toBeLessThanOrEqual(31);
    expect(store.metrics.recordsFolded).toBe(records.length);
  });

  it("on a hierarchical (user_id, month) container too", async () => {
    const store = storeOn(fleetStores.local.uniqueContainerId("g-hpk"), { hierarchicalPartitionKey: true });
    const records = fleet("hp", 4, 20, 60);
    await store.append(records);
    await expectExact(store, records);
    const { updates, after } = reprice(records.slice(0, 20), 3);
    await store.updateCosts(updates);
    const now = [...after, ...records.slice(20)];
    await expectExact(store, now);
    const cut = new Date(DAY0 + 12 * 24 * HOUR).toISOString();
    await store.prune(cut);
    await expectExact(store, now.filter((r) => r.timestamp >= cut), false);
  });

  it("a process that only reads folds what other processes write, in the background", async () => {
    const id = fleetStores.local.uniqueContainerId("g-background");
    const writer = storeOn(id, { globalRollups: false });
    const records = fleet("bg", 3, 10);
    await writer.append(records.slice(0, 10));
    const reader = storeOn(id, { globalConsumerIntervalMs: 30 });
    await reader.aggregate({ filter: {}, groupBy: [] }); // starts its consumer
    await writer.append(records.slice(10));
    const want = aggregateInMemory(records, { filter: RANGE, groupBy: ["model"] });
    for (let i = 0; i < 200 && reader.metrics.recordsFolded < records.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(reader.metrics.recordsFolded).toBe(records.length);
    expect(sorted(await reader.aggregate({ filter: RANGE, groupBy: ["model"] }), true)).toEqual(sorted(want, true));
    await reader.close(); // its timer would otherwise add requests to the server's counts below
  });

  it("after monitor.flush() resolves, every global view holds what the monitor tracked", async () => {
    const store = storeOn(fleetStores.local.uniqueContainerId("g-monitor"), { globalDrainAfterAppend: false });
    const monitor = createTokenMonitor({ store });
    const tracked: UsageRecord[] = [];
    for (let i = 0; i < 40; i++) {
      tracked.push(
        await monitor.trackUsage({
          userId: `m-user-${i % 5}`,
          threadId: `m-t-${i % 7}`,
          provider: "openai",
          model: i % 2 ? "gpt-4o" : "gpt-4o-mini",
          inputTokens: 100 + i,
          outputTokens: 20 + i,
          timestamp: new Date(DAY0 + i * 37 * 60_000).toISOString(),
        }),
      );
    }
    await monitor.flush();
    expect(store.metrics.recordsFolded).toBe(tracked.length);
    await expectExact(store, tracked);
    await monitor.close();
  });

  it("with globalDrainAfterAppend off, appends leave the folding to the consumer's next drain", async () => {
    const store = storeOn(fleetStores.local.uniqueContainerId("g-nodrain"), { globalDrainAfterAppend: false });
    const records = fleet("nd", 2, 10);
    await store.append(records);
    expect(store.metrics.recordsFolded).toBe(0);
    expect(await store.drainGlobalRollups()).toBe(true);
    expect(store.metrics.recordsFolded).toBe(records.length);
    await expectExact(store, records);
  });

  it("refuses a reserved user id, which could collide with the global partition", async () => {
    const store = storeOn(fleetStores.local.uniqueContainerId("g-reserved"));
    await expect(store.append([makeRecord({ userId: "__global__" })])).rejects.toThrow(ValidationError);
    await expect(store.append([makeRecord({ userId: "__settings__" })])).rejects.toThrow(/reserved/);
  });

  it("a store with the consumer off still answers exactly (per-user rollups) until a consumer folds", async () => {
    const id = fleetStores.local.uniqueContainerId("g-off");
    const writer = storeOn(id, { globalRollups: false });
    const records = fleet("b", 3, 20);
    await writer.append(records);
    await expectExact(writer, records);
    const consumer = storeOn(id);
    expect(await consumer.drainGlobalRollups()).toBe(true);
    await expectExact(consumer, records);
  });
});

describe("consumers racing and dying", () => {
  it("two consumers folding at once, interleaved with writes, never double count", async () => {
    const id = fleetStores.local.uniqueContainerId("g-race");
    const writer = storeOn(id, { globalRollups: false });
    const a = storeOn(id);
    const b = storeOn(id);
    const records = fleet("c", 5, 30);
    for (let i = 0; i < records.length; i += 25) {
      await writer.append(records.slice(i, i + 25));
      await Promise.all([a.drainGlobalRollups(), b.drainGlobalRollups(), a.drainGlobalRollups()]);
    }
    await expectExact(a, records);
    await expectExact(b, records);
    expect(a.metrics.recordsFolded + b.metrics.recordsFolded).toBe(records.length);
  });

  it("a consumer that dies before its commit loses nothing; one whose answer was lost counts nothing twice", async () => {
    const id = fleetStores.local.uniqueContainerId("g-die");
    const writer = storeOn(id, { globalRollups: false });
    const records = fleet("d", 4, 20);
    await writer.append(records.slice(0, 40));
    // Dies between reading the feed and committing: its batch never applies.
    const dying = storeOn(id, { maxAttempts: 1 });
    fleetStores.local.faults.failNext("batch", 1, { status: 503 });
    await expect(dying.drainGlobalRollups()).rejects.toThrow();
    expect(dying.metrics.recordsFolded).toBe(0);
    const next = storeOn(id);
    expect(await next.drainGlobalRollups()).toBe(true);
    await expectExact(next, records.slice(0, 40));
    // The batch applies but its answer is lost: the retry fails its etag, the fold is re-read.
    await writer.append(records.slice(40));
    fleetStores.local.faults.failNext("batch", 1, { status: 503, afterApplying: true });
    expect(await next.drainGlobalRollups()).toBe(true);
    await expectExact(next, records);
  });
});

describe("a consumer in another process", () => {
  it("two processes consuming one container while records arrive count every record once", async () => {
    const id = fleetStores.local.uniqueContainerId("g-proc");
    const writer = storeOn(id, { globalRollups: false });
    const here = storeOn(id);
    await writer.append(fleet("p0", 1, 1)); // creates the container before the child opens it
    const child = startFixture("cosmos-consumer-child.ts", [fleetStores.local.endpoint, fleetStores.local.databaseId, id]);
    try {
      await child.waitFor(/^drained/);
      const records = [...fleet("p0", 1, 1), ...fleet("p", 6, 30)];
      for (let i = 1; i < records.length; i += 15) {
        await writer.append(records.slice(i, i + 15));
        await here.drainGlobalRollups();
      }
      child.child.kill("SIGTERM");
      const done = await child.waitFor(/^done \d+/, 30_000);
      expect(await here.drainGlobalRollups()).toBe(true);
      await expectExact(here, records);
      const childFolded = Number(done.split(" ")[1]);
      // Each record folded once, by one process or the other.
      expect(childFolded + here.metrics.recordsFolded).toBe(records.length);
    } finally {
      child.child.kill("SIGKILL");
      await child.exited;
    }
  });
});


describe("re-pricing and pruning keep the global rollups exact", () => {
  it("re-pricing folded records, twice, with the priced flag moving groups", async () => {
    const id = fleetStores.local.uniqueContainerId("g-reprice");
    const store = storeOn(id);
    const records = fleet("e", 4, 20);
    await store.append(records);
    const first = reprice(records.slice(0, 30), 3, true);
    expect(await store.updateCosts(first.updates)).toBe(30);
    let now = [...first.after, ...records.slice(30)];
    await expectExact(store, now, false);
    const second = reprice(now.slice(10, 50), 2);
    expect(await store.updateCosts(second.updates)).toBe(40);
    now = [...now.slice(0, 10), ...second.after, ...now.slice(50)];
    await expectExact(store, now, false);
    // A later consumer sees the re-priced versions in the feed and skips them.
    const other = storeOn(id);
    expect(await other.drainGlobalRollups()).toBe(true);
    await expectExact(other, now, false);
  });

  it("re-pricing before any consumer ever ran", async () => {
    const id = fleetStores.local.uniqueContainerId("g-reprice-cold");
    const writer = storeOn(id, { globalRollups: false });
    const records = fleet("f", 3, 20);
    await writer.append(records);
    const { updates, after } = reprice(records.slice(5, 25), 5);
    expect(await writer.updateCosts(updates)).toBe(20);
    const now = [...records.slice(0, 5), ...after, ...records.slice(25)];
    const reader = storeOn(id);
    expect(await reader.drainGlobalRollups()).toBe(true);
    await expectExact(reader, now);
  });

  it("a record written while a re-price runs is counted once, by the consumer", async () => {
    const id = fleetStores.local.uniqueContainerId("g-reprice-race");
    const a = storeOn(id);
    const b = storeOn(id);
    const records = fleet("g", 4, 15);
    await a.append(records);
    const late = fleet("h", 4, 10);
    const { updates, after } = reprice(records, 7, true);
    // Records of a user being re-priced, and others, land while the re-price holds the lock.
    await Promise.all([a.updateCosts(updates), (async () => {
      for (let i = 0; i < late.length; i += 8) await b.append(late.slice(i, i + 8));
    })()]);
    expect(await b.drainGlobalRollups()).toBe(true);
    await expectExact(a, [...after, ...late], false);
  });

  it("a re-price that dies after committing its deltas is finished by the next process that finds its lock", async () => {
    const id = fleetStores.local.uniqueContainerId("g-stale");
    const dying = storeOn(id, { maxAttempts: 1 });
    const records = fleet("s", 3, 10);
    await dying.append(records);
    const { updates, after } = reprice(records.slice(0, 12), 9);
    // Its record rewrites fail after the deltas committed (and again when it tries to finish before giving up).
    fleetStores.local.faults.failNext("patch", 100, { status: 503 });
    await expect(dying.updateCosts(updates)).rejects.toThrow();
    fleetStores.local.faults.clear();
    const lease = (await fleetStores.local.client().database(fleetStores.local.databaseId).container(id).item("~glease", "__global__").read()).resource;
    expect(lease?.lock?.intents).toHaveLength(12);
    const next = storeOn(id, { globalLockStaleMs: 300 });
    expect(await next.drainGlobalRollups()).toBe(true);
    await expectExact(next, [...after, ...records.slice(12)]);
    for (const r of after) expect((await next.get(r.id, r.userId))?.totalCostNanos).toBe(r.totalCostNanos);
  });

  it("pruning, of everyone and of one user, subtracts exactly what was deleted", async () => {
    const id = fleetStores.local.uniqueContainerId("g-prune");
    const store = storeOn(id);
    const records = fleet("i", 4, 25);
    await store.append(records);
    await store.updateCosts(reprice(records.slice(0, 10), 2).updates);
    let now = [...reprice(records.slice(0, 10), 2).after, ...records.slice(10)];
    const cut = new Date(DAY0 + 9 * 24 * HOUR + 5 * HOUR + 30 * 60_000).toISOString();
    expect(await store.prune(cut, { userId: "i-user-1" })).toBe(now.filter((r) => r.userId === "i-user-1" && r.timestamp < cut).length);
    now = now.filter((r) => !(r.userId === "i-user-1" && r.timestamp < cut));
    await expectExact(store, now, false);
    const cut2 = new Date(DAY0 + 15 * 24 * HOUR).toISOString();
    expect(await store.prune(cut2)).toBe(now.filter((r) => r.timestamp < cut2).length);
    now = now.filter((r) => r.timestamp >= cut2);
    await expectExact(store, now, false);
  });
});

describe("migration", () => {
  it("rebuildRollups builds the global rollups of an existing container, idempotently", async () => {
    const id = fleetStores.local.uniqueContainerId("g-rebuild");
    const writer = storeOn(id, { globalRollups: false });
    const records = fleet("j", 3, 20);
    await writer.append(records);
    const { updates, after } = reprice(records.slice(0, 12), 4);
    await writer.updateCosts(updates);
    const now = [...after, ...records.slice(12)];
    const store = storeOn(id);
    await store.rebuildRollups();
    await expectExact(store, now);
    const q = new UsageQueries(store);
    const top = async () => [await q.getTopUsers({ ...RANGE, limit: 3 }), await q.getTopThreads({ ...RANGE, limit: 3 })];
    const first = await top();
    expect(first[0].map((r) => r.key)).toEqual(expectedLeaders(now, "user", RANGE.start, RANGE.end, 3).map((r) => r.key));
    expect(first[1].map((r) => r.key)).toEqual(expectedLeaders(now, "thread", RANGE.start, RANGE.end, 3).map((r) => r.key));
    // Again: the same totals under the next epoch, leaderboard windows rebuilt on demand.
    await store.rebuildRollups();
    await expectExact(store, now);
    expect(await top()).toEqual(first);
    // Nothing of the older epochs is left in the global partition.
    const { resources } = await fleetStores.local
      .client()
      .database(fleetStores.local.databaseId)
      .container(id)
      .items.query({ query: "SELECT c.epoch FROM c WHERE c.user_id = '__global__' AND IS_DEFINED(c.epoch) AND c.type != 'global-lease'" })
      .fetchAll();
    expect(new Set(resources.map((r: { epoch: number }) => r.epoch)).size).toBe(1);
  });
});

describe("documents read by a global view do not grow with users", () => {
  it("reads the same documents at 4, 16 and 64 users", async () => {
    const reads: Array<{ documents: number; requests: number }> = [];
    for (const users of [4, 16, 64]) {
      const store = storeOn(fleetStores.local.uniqueContainerId(`g-flat-${users}`));
      // Every fleet covers every day of the range, so only the fleet's size differs.
      const records = fleet(`k${users}`, users, 8).map((r, n) => ({ ...r, timestamp: new Date(DAY0 + (n % 30) * 24 * HOUR + (n % 24) * HOUR + 60_000).toISOString() }));
      await store.append(records);
      reads.push(await documentsRead(store, { filter: RANGE, groupBy: ["model"] }));
    }
    expect(reads[0].documents).toBeGreaterThan(0);
    expect(reads[1]).toEqual(reads[0]);
    expect(reads[2]).toEqual(reads[0]);
  });
});

describe("leaderboards from the global partition", () => {
  it("top users and threads are exact from the consumer's documents, also after re-pricing and pruning", async () => {
    const id = fleetStores.local.uniqueContainerId("g-leaders");
    const store = storeOn(id);
    const base = Date.UTC(2034, 5, 1, 7);
    let data = leaderDataset(21, base, 6, 300, "gl");
    await store.append(data);
    const q = new UsageQueries(store);
    const check = async (records: UsageRecord[]) => {
      for (const [start, end] of leaderRanges(base, 6)) {
        for (const entity of ["user", "thread"] as const) {
          expect(await actualLeaders(q, entity, start, end, 3), `${entity} ${start}..${end}`).toEqual(expectedLeaders(records, entity, start, end, 3));
        }
      }
    };
    await check(data);
    // The fast path ran: windows were built and registered in the lease.
    const lease = (await fleetStores.local.client().database(fleetStores.local.databaseId).container(id).item("~glease", "__global__").read()).resource;
    expect(lease.windows.length).toBeGreaterThan(0);
    const { updates, after } = reprice(data.filter((_, i) => i % 7 === 0), 11);
    await store.updateCosts(updates);
    const repriced = new Map(after.map((r) => [r.id, r]));
    data = data.map((r) => repriced.get(r.id) ?? r);
    await check(data);
    const cut = new Date(base + 2 * 24 * HOUR + 5 * HOUR).toISOString();
    await store.prune(cut, { userId: data[0].userId });
    data = data.filter((r) => !(r.userId === data[0].userId && r.timestamp < cut));
    await check(data);
  });

  it("keeps at most four windows per entity and deletes a dropped one's documents", async () => {
    const id = fleetStores.local.uniqueContainerId("g-windows");
    const store = storeOn(id);
    const records = fleet("w", 5, 12);
    await store.append(records);
    const day = (n: number) => new Date(DAY0 + n * 24 * HOUR).toISOString().slice(0, 10);
    const c = fleetStores.local.client().database(fleetStores.local.databaseId).container(id);
    const windowDocs = async () => (await c.items.query("SELECT c.win FROM c WHERE c.type = 'global-window'").fetchAll()).resources as Array<{ win: string }>;
    for (let n = 1; n <= 5; n++) {
      const rows = await store.leaders!("user", [{ start: day(0), end: day(n + 1) }], 0, 100);
      const want = aggregateInMemory(records, { filter: { start: `${day(0)}T00:00:00.000Z`, end: `${day(n + 1)}T00:00:00.000Z` }, groupBy: ["user"] });
      expect(rows.map((r) => [r.user, r.costNanos]).sort()).toEqual(want.map((r) => [r.key.user, r.costNanos]).sort());
    }
    const lease = (await c.item("~glease", "__global__").read()).resource;
    expect(lease.windows.map((w: { end: string }) => w.end)).toEqual([day(3), day(4), day(5), day(6)]);
    const wins = new Set((await windowDocs()).map((d) => d.win));
    expect(wins.size).toBe(4);
    for (const w of wins) expect(w).not.toContain(`|${day(2)}|`);
  });

  it("a leaderboard read once a window exists reads the same documents at 20, 80 and 320 users", async () => {
    const reads: number[] = [];
    for (const users of [20, 80, 320]) {
      const store = storeOn(fleetStores.local.uniqueContainerId(`g-lflat-${users}`));
      // The same ten big spenders in every fleet, then `users` similar small ones.
      const records = fleet(`lf${users}`, users, 3).map((r, n) => ({
        ...r,
        userId: n < 40 ? `big-${n % 10}` : r.userId,
        totalCostNanos: n < 40 ? 1_000_000 + n : r.totalCostNanos,
        timestamp: new Date(DAY0 + (n % 30) * 24 * HOUR + (n % 24) * HOUR + 60_000).toISOString(),
      }));
      await store.append(records);
      const q = new UsageQueries(store);
      const range = { start: RANGE.start, end: RANGE.end, limit: 5 };
      const first = await q.getTopUsers(range); // builds the 30-day window
      const before = store.metrics.documentsRead;
      const again = await q.getTopUsers(range);
      reads.push(store.metrics.documentsRead - before);
      expect(again).toEqual(first);
      expect(again.map((r) => r.key)).toEqual(expectedLeaders(records, "user", RANGE.start, RANGE.end, 5).map((r) => r.key));
    }
    console.log(`[leaders] documents read by a top-5 users call at 20/80/320 users: ${reads.join(" / ")}`);
    expect(reads[1]).toBe(reads[0]);
    expect(reads[2]).toBe(reads[0]);
  });

  it("the next day's window is derived from the day before's: exact, reading two days of entity-days instead of the span's", async () => {
    const store = storeOn(fleetStores.local.uniqueContainerId("g-derive"));
    const records = fleet("dw", 12, 20, 12);
    await store.append(records);
    const q = new UsageQueries(store);
    const day = (n: number) => new Date(DAY0 + n * 24 * HOUR).toISOString();
    const firstCall = async (start: string, end: string) => {
      const before = store.metrics.documentsRead;
      const users = await q.getTopUsers({ start, end, limit: 4 });
      const threads = await q.getTopThreads({ start, end, limit: 4 });
      return { read: store.metrics.documentsRead - before, users: users.map((r) => [r.key, r.totalCostNanos]), threads: threads.map((r) => [r.key, r.totalCostNanos]) };
    };
    const expected = (start: string, end: string) => ({
      users: expectedLeaders(records, "user", start, end, 4).map((r) => [r.key, r.cost]),
      threads: expectedLeaders(records, "thread", start, end, 4).map((r) => [r.key, r.cost]),
    });
    const built = await firstCall(day(0), day(10));
    expect({ users: built.users, threads: built.threads }).toEqual(expected(day(0), day(10)));
    expect(store.metrics.windowsDerived).toBe(0);
    const derived = await firstCall(day(1), day(11));
    expect({ users: derived.users, threads: derived.threads }).toEqual(expected(day(1), day(11)));
    expect(store.metrics.windowsDerived).toBe(2); // users and threads
    expect(derived.read).toBeLessThan(built.read);
    // Shorter and disjoint spans are built, not derived.
    const other = await firstCall(day(10), day(12));
    expect({ users: other.users, threads: other.threads }).toEqual(expected(day(10), day(12)));
    expect(store.metrics.windowsDerived).toBe(2);
  });
});
