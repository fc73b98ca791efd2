/**
 * The Cosmos write path on the extended local server (atomic batches, Patch in
 * batches, fault hooks): constant reads per flush, replays never counted twice,
 * two replicas on one user, whole-batch 429/503, over-large flushes, per-user reads
 * by day, and containers written by earlier versions (legacy hour rollups).
 * Every check compares the rollup documents with the raw records they summarise.
 */
import type { Container } from "@azure/cosmos";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UsageRecord } from "../../src/record/types.js";
import { StoreError } from "../../src/errors.js";
import { CosmosUsageStore } from "../../src/stores/cosmos/index.js";
import { toUsageDocument } from "../../src/stores/cosmos/documents.js";
import { rollupGroups } from "../../src/stores/cosmos/rollups.js";
import { aggregateInMemory, type AggregateQuery } from "../../src/stores/types.js";
import { expectRollupsExact, sortRows } from "../support/cosmos-rollup-check.js";
import { makeRecord, seededRandom } from "../contract/make-record.js";
import { startLocalCosmos, type LocalCosmos } from "../support/cosmos-server.js";
import { COSMOS_SDK_CHOICE, importCosmosSdk } from "../support/cosmos-sdk.js";
import { isBulkRequest, startThrottleProxy } from "../support/cosmos-throttle-proxy.js";

let local: LocalCosmos;
beforeAll(async () => {
  local = await startLocalCosmos();
});
afterAll(async () => {
  await local?.close();
});

function storeOn(containerId: string, extra: Record<string, unknown> = {}) {
  return new CosmosUsageStore({
    client: local.client(),
    databaseId: local.databaseId,
    containerId,
    baseDelayMs: 2,
    maxDelayMs: 20,
    // The write path alone: what the change-feed consumer adds is tested and measured on its own (cosmos-global.test.ts, bench).
    globalRollups: false,
    ...extra,
  }, importCosmosSdk);
}

const containerOf = (id: string): Container => local.client().database(local.databaseId).container(id);

function records(n: number, opts: { user: string; start: number; stepMs: number; seed: number; prefix: string }): UsageRecord[] {
  const random = seededRandom(opts.seed);
  return Array.from({ length: n }, (_, i) =>
    makeRecord({
      id: `${opts.prefix}-${i}`,
      userId: opts.user,
      model: random() < 0.5 ? "gpt-4o" : "gpt-4o-mini",
      agentName: random() < 0.2 ? null : "agent-1",
      timestamp: new Date(opts.start + i * opts.stepMs).toISOString(),
      inputTokens: 50 + Math.floor(random() * 500),
      outputTokens: 5 + Math.floor(random() * 50),
      cacheReadTokens: random() < 0.3 ? 17 : 0,
      reasoningTokens: random() < 0.2 ? 9 : 0,
      error: random() < 0.1,
      priced: random() > 0.1,
      estimated: random() < 0.1,
      cached: random() < 0.05,
    }),
  );
}

describe("writes at constant cost per record", () => {
  it("reads the same number of documents per flush at the start and at the end of a heavy user's hour", async () => {
    const id = local.uniqueContainerId("flat");
    const store = storeOn(id);
    const rs = records(400, { user: "heavy", start: Date.UTC(2035, 0, 1, 10), stepMs: 8000, seed: 1, prefix: "flat" });
    const readsPerFlush: number[] = [];
    for (let i = 0; i < rs.length; i += 1) {
      const before = local.ops.counts.read + local.ops.counts.query;
      expect(await store.append([rs[i]])).toEqual({ inserted: 1, duplicates: 0 });
      readsPerFlush.push(local.ops.counts.read + local.ops.counts.query - before);
    }
    // One point read of the hour rollup and one of the day rollup, whatever the hour already holds.
    expect(readsPerFlush.slice(1, 10)).toEqual(Array(9).fill(2));
    expect(readsPerFlush.slice(-10)).toEqual(Array(10).fill(2));
    expect(store.metrics.batchRequests).toBe(400);
    await expectRollupsExact(containerOf(id));
    await store.close();
  });

  it("replays: a stored record aborts its batch, the batch is resent without it, nothing counts twice", async () => {
    const id = local.uniqueContainerId("replay");
    const store = storeOn(id);
    const rs = records(150, { user: "replayer", start: Date.UTC(2035, 0, 2, 23, 30), stepMs: 30_000, seed: 2, prefix: "rp" });
    expect(await store.append(rs.slice(0, 60))).toEqual({ inserted: 60, duplicates: 0 });
    expect(await store.append(rs.slice(30, 120))).toEqual({ inserted: 60, duplicates: 30 });
    expect(await store.append(rs)).toEqual({ inserted: 30, duplicates: 120 });
    expect(await store.append([rs[5], rs[5]])).toEqual({ inserted: 0, duplicates: 2 });
    const raw = await expectRollupsExact(containerOf(id));
    expect(raw).toHaveLength(150);
    await store.close();
  });

  it("two replicas writing the same user at the same time give exact rollups", async () => {
    const id = local.uniqueContainerId("replicas");
    const a = storeOn(id);
    const b = storeOn(id);
    await a.getSetting("warm", "up");
    const rs = records(240, { user: "shared", start: Date.UTC(2035, 0, 3, 23, 50), stepMs: 5_000, seed: 3, prefix: "rep" });
    // Each replica's batches reach the same hours in a shuffled order (first/last seen move both ways).
    const random = seededRandom(33);
    const shuffled = [...rs].sort(() => random() - 0.5);
    const slices = Array.from({ length: 24 }, (_, i) => shuffled.slice(i * 10, i * 10 + 10));
    const results = await Promise.all(slices.map((s, i) => (i % 2 ? a : b).append(s)));
    expect(results.reduce((n, r) => n + r.inserted, 0)).toBe(240);
    // The replicas did collide (an etag-conditioned rewrite lost, and the retry patched).
    expect(a.metrics.rollupRaces + b.metrics.rollupRaces).toBeGreaterThan(0);
    expect(await expectRollupsExact(containerOf(id))).toHaveLength(240);
    const q: AggregateQuery = { filter: { userId: "shared" }, groupBy: ["model", "agent"] };
    expect(sortRows(await a.aggregate(q))).toEqual(sortRows(aggregateInMemory(rs, q)));
    await a.close();
    await b.close();
  });
});

describe("failure shapes", () => {
  it("retries a batch the service refused whole (429 past the SDK's own retries, 503)", async () => {
    const id = local.uniqueContainerId("whole");
    const store = storeOn(id, { maxAttempts: 8 });
    await store.getSetting("warm", "up");
    const rs = records(30, { user: "throttled", start: Date.UTC(2035, 0, 4, 1), stepMs: 60_000, seed: 4, prefix: "wh" });
    local.faults.failNext("batch", 2, { status: 503 });
    expect(await store.append(rs.slice(0, 10))).toEqual({ inserted: 10, duplicates: 0 });
    // The SDK retries a 429 up to 9 times by itself, then items.batch throws a plain Error without a status.
    local.faults.failNext("batch", 11, { status: 429, retryAfterMs: 1 });
    expect(await store.append(rs.slice(10, 20))).toEqual({ inserted: 10, duplicates: 0 });
    expect(local.faults.remaining).toBe(0);
    // Applied, answer lost: the resend finds its records (409); this call stored them, so they
    // count as inserted (what counts new records, budgets and metrics, sees them once).
    local.faults.failNext("batch", 1, { status: 503, afterApplying: true });
    expect(await store.append(rs.slice(20))).toEqual({ inserted: 10, duplicates: 0 });
    // Sent again later (a replay), they are duplicates.
    expect(await store.append(rs.slice(20))).toEqual({ inserted: 0, duplicates: 10 });
    expect(await expectRollupsExact(containerOf(id))).toHaveLength(30);
    await store.close();
  });

  it("gives up after its attempts with nothing half-written, and the next flush completes", async () => {
    const id = local.uniqueContainerId("giveup");
    const store = storeOn(id, { maxAttempts: 2 });
    await store.getSetting("warm", "up");
    const rs = records(5, { user: "gives-up", start: Date.UTC(2035, 0, 5, 1), stepMs: 1000, seed: 5, prefix: "gu" });
    local.faults.failNext("batch", 2, { status: 503 });
    await expect(store.append(rs)).rejects.toThrow(/nothing was lost/);
    expect(await expectRollupsExact(containerOf(id))).toHaveLength(0);
    expect(await store.append(rs)).toEqual({ inserted: 5, duplicates: 0 });
    expect(await expectRollupsExact(containerOf(id))).toHaveLength(5);
    await store.close();
  });

  it("a batch refused whole for good (400) fails at once on SDK 4.10+, after its attempts on 4.9", async () => {
    // 4.10+ keeps the service's answer as the cause of "Batch request error"; 4.9 drops
    // it, so a refusal there cannot be told from throttling and is retried until the end.
    const id = local.uniqueContainerId("refused");
    const store = storeOn(id, { maxAttempts: 3 });
    await store.getSetting("warm", "up");
    const rs = records(5, { user: "refused", start: Date.UTC(2035, 0, 5, 3), stepMs: 1000, seed: 7, prefix: "rf" });
    local.faults.failNext("batch", 3, { status: 400 });
    const before = store.metrics.batchRequests;
    const err: unknown = await store.append(rs).then(
      () => null,
      (e: unknown) => e,
    );
    local.faults.clear();
    expectRefusedWhole(err, store.metrics.batchRequests - before);
    expect(await expectRollupsExact(containerOf(id))).toHaveLength(0);
    expect(await store.append(rs)).toEqual({ inserted: 5, duplicates: 0 });
    expect(await expectRollupsExact(containerOf(id))).toHaveLength(5);
    await store.close();
  });

  it("splits a flush over the operation limit and over the request size limit", async () => {
    const id = local.uniqueContainerId("split");
    const store = storeOn(id);
    const many = records(250, { user: "many", start: Date.UTC(2035, 0, 6, 1), stepMs: 1000, seed: 6, prefix: "mn" });
    expect(await store.append(many)).toEqual({ inserted: 250, duplicates: 0 });
    expect(store.metrics.batchRequests).toBeGreaterThanOrEqual(3);
    const before = store.metrics.batchRequests;
    const big = records(8, { user: "big", start: Date.UTC(2035, 0, 6, 2), stepMs: 1000, seed: 7, prefix: "bg" }).map((r) => ({
      ...r,
      requestMetadata: { blob: "x".repeat(400_000) },
    }));
    expect(await store.append(big)).toEqual({ inserted: 8, duplicates: 0 });
    expect(store.metrics.batchRequests - before).toBeGreaterThanOrEqual(3);
    // The service refusing a batch as too large (413) splits it in two.
    const more = records(20, { user: "refused", start: Date.UTC(2035, 0, 6, 3), stepMs: 1000, seed: 12, prefix: "rf" });
    local.faults.failNext("batch", 1, { status: 413 });
    const batches = store.metrics.batchRequests;
    expect(await store.append(more)).toEqual({ inserted: 20, duplicates: 0 });
    expect(store.metrics.batchRequests - batches).toBe(3);
    expect(await expectRollupsExact(containerOf(id))).toHaveLength(278);
    await store.close();
  });
});

describe("per-user reads by day", () => {
  it("a 30-day query reads whole days from day rollups, edge hours from hour rollups, partial hours raw", async () => {
    const id = local.uniqueContainerId("days");
    const store = storeOn(id);
    // Every 37 minutes for 32 days: activity in every hour.
    const rs = records(1250, { user: "month", start: Date.UTC(2035, 2, 1), stepMs: 37 * 60_000, seed: 8, prefix: "mo" });
    await store.append(rs);
    const query: AggregateQuery = {
      filter: { userId: "month", start: "2035-03-02T05:17:00.000Z", end: "2035-04-01T09:41:00.000Z" },
      groupBy: ["model", "day"],
    };
    const before = store.metrics.documentsRead;
    const rows = await store.aggregate(query);
    const read = store.metrics.documentsRead - before;
    expect(sortRows(rows)).toEqual(sortRows(aggregateInMemory(rs, query)));
    // 29 whole days + 18 + 9 whole hours + the raw records of two partial hours (at most 2 each).
    expect(read).toBeLessThanOrEqual(29 + 27 + 4);
    expect(read).toBeGreaterThanOrEqual(29 + 27);
    const byHour: AggregateQuery = { filter: { ...query.filter, provider: "openai" }, groupBy: ["hour", "agent"] };
    expect(sortRows(await store.aggregate(byHour))).toEqual(sortRows(aggregateInMemory(rs, byHour)));
    const open: AggregateQuery = { filter: { userId: "month", end: "2035-03-20T00:00:00.000Z" }, groupBy: ["operation"] };
    expect(await store.aggregate(open)).toEqual(aggregateInMemory(rs, open));
    await store.close();
  });
});

describe("containers written by earlier versions", () => {
  it("reads legacy hour rollups beside new writes, and rebuildRollups migrates them idempotently", async () => {
    const id = local.uniqueContainerId("legacy");
    const store = storeOn(id);
    await store.getSetting("warm", "up");
    const c = containerOf(id);
    const old = records(120, { user: "veteran", start: Date.UTC(2035, 4, 1, 20), stepMs: 3 * 60_000, seed: 9, prefix: "old" });
    // What the previous version left: raw records and one recomputed rollup per user-hour.
    for (const r of old) await c.items.create(toUsageDocument(r));
    const hours = new Map<string, UsageRecord[]>();
    for (const r of old) hours.set(r.timestamp.slice(0, 13), [...(hours.get(r.timestamp.slice(0, 13)) ?? []), r]);
    for (const [hour, rs] of hours) {
      await c.items.create({ id: `~r${hour}`, type: "rollup", user_id: "veteran", hour, day: hour.slice(0, 10), month: hour.slice(0, 7), groups: rollupGroups(rs) });
    }
    const fresh = records(60, { user: "veteran", start: Date.UTC(2035, 4, 1, 23, 1), stepMs: 2 * 60_000, seed: 10, prefix: "new" });
    expect(await store.append(fresh)).toEqual({ inserted: 60, duplicates: 0 });
    const all = [...old, ...fresh];
    const queries: AggregateQuery[] = [
      { filter: { userId: "veteran" }, groupBy: ["hour", "model"] },
      { filter: { userId: "veteran", start: "2035-04-30T00:00:00.000Z", end: "2035-05-03T00:00:00.000Z" }, groupBy: ["day"] },
      { filter: {}, groupBy: ["user", "model"] },
    ];
    const check = async () => {
      for (const q of queries) expect(sortRows(await store.aggregate(q)), JSON.stringify(q)).toEqual(sortRows(aggregateInMemory(all, q)));
    };
    await check();

    await store.rebuildRollups();
    const { resources: legacyLeft } = await c.items.query("SELECT c.id FROM c WHERE c.type = 'rollup'").fetchAll();
    expect(legacyLeft).toEqual([]);
    expect(await expectRollupsExact(c)).toHaveLength(180);
    await check();
    const batches = store.metrics.batchRequests;
    await store.rebuildRollups();
    expect(store.metrics.batchRequests).toBe(batches);
    await check();
    await store.close();
  });

  it("rebuildRollups racing a writer between its reads and its writes leaves exact rollups", async () => {
    const id = local.uniqueContainerId("rebuild-live");
    const writer = storeOn(id);
    const rs = [0, 1, 2].flatMap((u) =>
      records(120, { user: `live-${u}`, start: Date.UTC(2035, 6, 1, 22), stepMs: 61_000, seed: 20 + u, prefix: `lv${u}` }),
    );
    // Half the records as an earlier version left them: raw records and legacy hour rollups.
    const c = containerOf(id);
    await writer.getSetting("warm", "up");
    const early = rs.filter((_, i) => i % 2 === 0);
    for (const r of early) await c.items.create(toUsageDocument(r));
    const hours = new Map<string, UsageRecord[]>();
    for (const r of early) {
      const k = JSON.stringify([r.userId, r.timestamp.slice(0, 13)]);
      hours.set(k, [...(hours.get(k) ?? []), r]);
    }
    for (const group of hours.values()) {
      const { userId, timestamp } = group[0];
      const hour = timestamp.slice(0, 13);
      await c.items.create({ id: `~r${hour}`, type: "rollup", user_id: userId, hour, day: hour.slice(0, 10), month: hour.slice(0, 7), groups: rollupGroups(group) });
    }
    // The rebuilding replica goes through a proxy that holds its batches (429s) until the
    // writer has committed more records into the same user-days it has already read.
    const proxy = await startThrottleProxy(local.endpoint, 40);
    let hold = true;
    proxy.decide = (req) => (hold && isBulkRequest(req) ? "throttle" : "forward");
    const rebuilder = new CosmosUsageStore({ client: local.client(proxy.endpoint), databaseId: local.databaseId, containerId: id, maxAttempts: 20, baseDelayMs: 5, maxDelayMs: 40 }, importCosmosSdk);
    try {
      const rebuilding = rebuilder.rebuildRollups();
      for (let t = 0; t < 400 && proxy.counts.throttle === 0; t++) await new Promise((r) => setTimeout(r, 5));
      expect(proxy.counts.throttle).toBeGreaterThan(0);
      await writer.append(rs.filter((_, i) => i % 2 === 1));
      hold = false;
      await rebuilding;
    } finally {
      await proxy.close();
    }
    expect(await expectRollupsExact(containerOf(id))).toHaveLength(360);
    await writer.close();
    await rebuilder.close();
  });

  it("a rollup rewrite refused whole for good (400) fails at once on SDK 4.10+, after its attempts on 4.9; a rebuild repairs it", async () => {
    const id = local.uniqueContainerId("maint-refused");
    const store = storeOn(id, { maxAttempts: 3 });
    const rs = records(12, { user: "maint-refused", start: Date.UTC(2035, 5, 2, 10), stepMs: 60_000, seed: 12, prefix: "mr" });
    await store.append(rs);
    const before = store.metrics.batchRequests;
    local.faults.failNext("batch", 3, { status: 400 });
    const err: unknown = await store
      .updateCosts(rs.slice(0, 4).map((r) => ({ id: r.id, userId: r.userId, inputCostNanos: 7, outputCostNanos: 11, totalCostNanos: 18, priced: true, priceSource: "override" })))
      .then(
        () => null,
        (e: unknown) => e,
      );
    local.faults.clear();
    expectRefusedWhole(err, store.metrics.batchRequests - before);
    await store.rebuildRollups();
    expect(await expectRollupsExact(containerOf(id))).toHaveLength(12);
    await store.close();
  });

  it("re-pricing and pruning keep the per-user rollups equal to the records", async () => {
    const id = local.uniqueContainerId("maint");
    const store = storeOn(id);
    const rs = records(90, { user: "maint", start: Date.UTC(2035, 5, 1, 22), stepMs: 90_000, seed: 11, prefix: "mt" });
    await store.append(rs);
    const changed = await store.updateCosts(
      rs.slice(0, 40).map((r) => ({ id: r.id, userId: r.userId, inputCostNanos: 7, outputCostNanos: 11, totalCostNanos: 18, priced: true, priceSource: "override" })),
    );
    expect(changed).toBe(40);
    await expectRollupsExact(containerOf(id));
    expect(await store.prune("2035-06-01T23:00:00.000Z")).toBe(40);
    const left = await expectRollupsExact(containerOf(id));
    expect(left).toHaveLength(50);
    await store.close();
  });
});

/**
 * A batch the service refused whole with a 400: SDK 4.10+ carries the status (the store
 * fails at once, one batch sent); 4.9 does not (the store spends its 3 attempts).
 */
function expectRefusedWhole(err: unknown, batchesSent: number): void {
  expect(err).toBeInstanceOf(StoreError);
  if (COSMOS_SDK_CHOICE === "latest") {
    // The first batch refused may be the global rollups' lock, taken before the rewrite.
    expect((err as Error).message).toMatch(/status 400/);
    expect(batchesSent).toBe(1);
  } else {
    expect((err as Error).message).toMatch(/after 3 attempts/);
    expect(batchesSent).toBe(3);
  }
}
