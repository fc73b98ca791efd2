/**
 * The Cosmos DB store: the shared contract against the in-process local server (and
 * against a real account when COSMOS_ENDPOINT and COSMOS_KEY are set), plus what is
 * particular to Cosmos: replays after a crash, throttling and dropped connections,
 * the user filter in every per-user query, rollups and their repair.
 */
import type { Container } from "@azure/cosmos";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MissingDependencyError, StoreError, ValidationError } from "../../src/errors.js";
import { CosmosUsageStore, resolveCosmosConfig } from "../../src/stores/cosmos/index.js";
import { aggregateInMemory, type AggregateQuery } from "../../src/stores/types.js";
import { describeUsageStoreContract } from "../contract/usage-store-contract.js";
import { makeRecord } from "../contract/make-record.js";
import { LOCAL_KEY, startLocalCosmos, type LocalCosmos } from "../support/cosmos-server.js";
import { COSMOS_SDK_CHOICE, cosmosSdkVersion, importCosmosSdk } from "../support/cosmos-sdk.js";
import { isBulkRequest, isQueryRequest, startThrottleProxy, type ThrottleProxy } from "../support/cosmos-throttle-proxy.js";

const FLAT_CAPABILITIES = { rollups: true, multiProcess: true, ttl: false };

let local: LocalCosmos;
beforeAll(async () => {
  local = await startLocalCosmos();
});
afterAll(async () => {
  await local?.close();
});

describe("contract on the local server", () => {
  const containerId = `contract-${Date.now().toString(36)}`;
  describeUsageStoreContract(
    "cosmos (local server)",
    // The importer matching the client's SDK: the change-feed consumer takes ChangeFeedStartFrom from it.
    // Folding on every append: the suite calls append() directly, never a monitor's flush().
    async () =>
      new CosmosUsageStore({ client: local.client(), databaseId: local.databaseId, containerId, globalDrainAfterAppend: true }, importCosmosSdk),
    { capabilities: FLAT_CAPABILITIES, storeClock: (at) => local.clock.set(at) },
  );
});

describe("contract on the local server, hierarchical partition key", () => {
  const containerId = `contract-hpk-${Date.now().toString(36)}`;
  describeUsageStoreContract(
    "cosmos (local server, /user_id + /month)",
    async () =>
      new CosmosUsageStore(
        { client: local.client(), databaseId: local.databaseId, containerId, hierarchicalPartitionKey: true, globalDrainAfterAppend: true },
        importCosmosSdk,
      ),
    { capabilities: FLAT_CAPABILITIES, storeClock: (at) => local.clock.set(at) },
  );
});

// Gated on a real account: the same suite, on a container of its own.
if (process.env.COSMOS_ENDPOINT && process.env.COSMOS_KEY) {
  describe("contract on a real account", () => {
    describeUsageStoreContract(
      "cosmos (real account)",
      async () =>
        new CosmosUsageStore({ containerId: process.env.COSMOS_CONTAINER ?? "token_usage_contract", globalDrainAfterAppend: true }, importCosmosSdk),
      { capabilities: FLAT_CAPABILITIES, storeClockFixed: true },
    );
  });
}

/** ~300 records over a few users and hours (the local server slows down past a few thousand). */
function dataset(n: number, t: string) {
  return Array.from({ length: n }, (_, i) =>
    makeRecord({
      id: `run-${t}-${i}`,
      userId: `user-${i % 4}-${t}`,
      model: i % 3 === 0 ? "gpt-4o" : "gpt-4o-mini",
      timestamp: new Date(Date.UTC(2033, 0, 1, 0, 0) + i * 41_000).toISOString(),
      inputTokens: 100 + i,
      outputTokens: 10 + (i % 17),
      inputCostNanos: 1000 + i,
      outputCostNanos: 500 + i * 3,
      totalCostNanos: 1500 + i * 4,
    }),
  );
}

function storeOn(endpoint: string, containerId: string, extra: Record<string, unknown> = {}) {
  return new CosmosUsageStore({
    client: local.client(endpoint),
    databaseId: local.databaseId,
    containerId,
    baseDelayMs: 5,
    maxDelayMs: 40,
    ...extra,
  }, importCosmosSdk);
}

describe("replays and crashes", () => {
  it("stores exactly N records and unchanged totals after replays and a crash mid-batch", async () => {
    // 1,000 records: the local server's queries slow down quadratically a few thousand items on.
    const N = 1000;
    const t = Date.now().toString(36);
    const records = dataset(N, t);
    const containerId = local.uniqueContainerId("idem");
    const store = storeOn(local.endpoint, containerId);
    const first = await store.append([]);
    expect(first).toEqual({ inserted: 0, duplicates: 0 });
    const container: Container = local.client().database(local.databaseId).container(containerId);
    // A previous process crashed after some of its batches committed: every other flush of
    // 25 records made it (records and their rollup share together, one transactional batch).
    const crashed = storeOn(local.endpoint, containerId);
    for (let i = 0; i < N; i += 50) await crashed.append(records.slice(i, i + 25));
    await crashed.close();

    const started = performance.now();
    expect(await store.append(records)).toEqual({ inserted: N / 2, duplicates: N / 2 });
    const ms = performance.now() - started;
    expect(await store.append(records)).toEqual({ inserted: 0, duplicates: N });
    expect(await store.append(records.slice(100, 200))).toEqual({ inserted: 0, duplicates: 100 });

    const { resources: count } = await container.items
      .query<number>({ query: "SELECT VALUE COUNT(1) FROM c WHERE c.type = @t", parameters: [{ name: "@t", value: "usage" }] })
      .fetchAll();
    expect(count).toEqual([N]);
    const hourAligned: AggregateQuery = { filter: {}, groupBy: ["user", "model", "hour"] };
    const raw: AggregateQuery = { filter: { start: "2000-01-01T00:00:00.001Z" }, groupBy: ["user", "model", "hour"] };
    const expected = sortRows(aggregateInMemory(records, hourAligned));
    expect(sortRows(await store.aggregate(hourAligned))).toEqual(expected);
    expect(sortRows(await store.aggregate(raw))).toEqual(expected);
    console.info(`cosmos local: ${N} records (${N / 2} new) appended in ${ms.toFixed(0)} ms`);
    await store.close();
  });
});

describe("throttling and dropped connections", () => {
  let proxy: ThrottleProxy;
  beforeAll(async () => {
    proxy = await startThrottleProxy(local.endpoint);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it("delivers every record exactly once through 429s and resets", async () => {
    const t = `thr${Date.now().toString(36)}`;
    const records = dataset(300, t);
    const containerId = local.uniqueContainerId("thr");
    let bulkSeen = 0;
    // More 429s in a row than the SDK retries by itself (9), then lost requests and lost answers.
    proxy.decide = (req) => {
      if (!isBulkRequest(req)) return "forward";
      bulkSeen++;
      if (bulkSeen <= 12) return "throttle";
      if (bulkSeen === 13) return "reset-before";
      if (bulkSeen === 14 || bulkSeen === 16) return "reset-after";
      return "forward";
    };
    // The SDK does not retry a throttled bulk request itself: the store's own backoff does.
    const store = storeOn(proxy.endpoint, containerId, { maxAttempts: 16 });
    const result = await store.append(records);
    // A lost answer makes the replay see its own creates as duplicates: never counted twice.
    expect(result.inserted + result.duplicates).toBe(300);
    expect(result.inserted).toBeLessThanOrEqual(300);
    expect(proxy.counts.throttle).toBe(12);
    expect(proxy.counts["reset-after"]).toBe(2);
    proxy.decide = () => "forward";

    const direct = storeOn(local.endpoint, containerId);
    const all = await direct.list({}, { limit: 1000 });
    expect(all).toHaveLength(300);
    expect(new Set(all.map((r) => r.id)).size).toBe(300);
    const q: AggregateQuery = { filter: {}, groupBy: ["user"] };
    expect(sortRows(await direct.aggregate(q))).toEqual(sortRows(aggregateInMemory(records, q)));
    await store.close();
    await direct.close();
  });

  it("gives up with a StoreError after its attempts, keeping nothing half-counted", async () => {
    const containerId = local.uniqueContainerId("giveup");
    const store = storeOn(proxy.endpoint, containerId, { maxAttempts: 2 });
    await store.getSetting("warm", "up");
    proxy.decide = (req) => (isBulkRequest(req) ? "throttle" : "forward");
    const records = dataset(5, `gu${Date.now().toString(36)}`);
    await expect(store.append(records)).rejects.toBeInstanceOf(StoreError);
    proxy.decide = () => "forward";
    expect(await store.append(records)).toEqual({ inserted: 5, duplicates: 0 });
    await store.close();
  });

  it("opens the container on a later call when the first open failed", async () => {
    proxy.decide = () => "unavailable";
    const store = storeOn(proxy.endpoint, local.uniqueContainerId("reopen"), { maxAttempts: 2 });
    await expect(store.getSetting("ns", "k")).rejects.toBeInstanceOf(StoreError);
    proxy.decide = () => "forward";
    await store.putSetting("ns", "k", 1);
    expect(await store.getSetting("ns", "k")).toBe(1);
    await store.close();
  });

  it("sends user-supplied strings only as parameters, with the user filter in every per-user query", async () => {
    const containerId = local.uniqueContainerId("sql");
    const store = storeOn(proxy.endpoint, containerId);
    const hostile = "' OR 1=1 --";
    const other = makeRecord({ userId: "someone-else", timestamp: "2033-05-01T10:00:00.000Z" });
    const mine = makeRecord({ userId: hostile, threadId: hostile, timestamp: "2033-05-01T10:00:00.000Z" });
    await store.append([other, mine]);
    proxy.seen.length = 0;
    expect((await store.list({ userId: hostile }, { limit: 10 })).map((r) => r.id)).toEqual([mine.id]);
    expect((await store.list({ threadId: hostile }, { limit: 10 })).map((r) => r.id)).toEqual([mine.id]);
    const viaRollup = await store.aggregate({ filter: { userId: hostile }, groupBy: ["user"] });
    const viaRaw = await store.aggregate({ filter: { userId: hostile, threadId: hostile }, groupBy: ["user"] });
    for (const rows of [viaRollup, viaRaw]) expect(rows.map((r) => [r.key.user, r.requests])).toEqual([[hostile, 1]]);
    expect(await store.get(mine.id, hostile)).toEqual(mine);
    expect(await store.prune("2033-01-01T00:00:00.000Z", { userId: hostile })).toBe(0);

    const queries = proxy.seen.filter(isQueryRequest).map((r) => JSON.parse(r.body) as { query: string; parameters?: Array<{ name: string; value: unknown }> });
    expect(queries.length).toBeGreaterThanOrEqual(5);
    for (const q of queries) {
      expect(q.query).not.toContain(hostile);
      const userParam = q.parameters?.find((p) => p.name === "@userId");
      if (userParam) expect(q.query).toContain("c.user_id = @userId");
    }
    // Every query issued for the per-user calls carried the user filter as a parameter.
    const perUser = queries.filter((q) => q.parameters?.some((p) => p.value === hostile && p.name === "@userId"));
    expect(perUser.length).toBeGreaterThanOrEqual(4);
    await store.close();
  });
});

describe("rollups", () => {
  it("answers hour-aligned aggregates from rollups, reading far fewer documents, and rebuild repairs them", async () => {
    const t = `ro${Date.now().toString(36)}`;
    const records = dataset(200, t);
    const containerId = local.uniqueContainerId("roll");
    const store = storeOn(local.endpoint, containerId);
    await store.append(records);
    const user = records[0].userId;
    const mine = records.filter((r) => r.userId === user);

    const viaRollups: AggregateQuery = { filter: { userId: user }, groupBy: [] };
    // A thread filter is one rollups cannot answer: the raw records are read.
    const viaRaw: AggregateQuery = { filter: { userId: user, threadId: mine[0].threadId! }, groupBy: [] };
    let before = store.metrics.documentsRead;
    const a = await store.aggregate(viaRollups);
    const rollupReads = store.metrics.documentsRead - before;
    before = store.metrics.documentsRead;
    const b = await store.aggregate(viaRaw);
    const rawReads = store.metrics.documentsRead - before;
    expect(a).toEqual(b);
    expect(a[0].requests).toBe(mine.length);
    expect(rawReads).toBe(mine.length);
    expect(rollupReads).toBeLessThan(rawReads / 5);

    // Damage the rollups behind the store's back: the rollup answer goes wrong...
    const container = local.client().database(local.databaseId).container(containerId);
    const { resources: rolls } = await container.items
      .query({ query: "SELECT * FROM c WHERE c.type = 'rollup-day' AND c.user_id = @u", parameters: [{ name: "@u", value: user }] })
      .fetchAll();
    await container.item(rolls[0].id, user).delete();
    expect((await store.aggregate(viaRollups))[0]?.requests ?? 0).toBeLessThan(mine.length);
    // ... and rebuildRollups makes it right again.
    await store.rebuildRollups();
    expect(await store.aggregate(viaRollups)).toEqual(b);
    await store.close();
  });
});

describe("configuration and lazy loading", () => {
  it("names the missing field when neither endpoint/key nor client is given", () => {
    expect(() => resolveCosmosConfig({}, {})).toThrow(ValidationError);
    expect(() => resolveCosmosConfig({}, {})).toThrow(/endpoint/);
    expect(() => resolveCosmosConfig({ endpoint: "http://127.0.0.1:1" }, {})).toThrow(/key/);
    expect(() => resolveCosmosConfig({ client: local.client(), bulkBatchSize: 101 }, {})).toThrow(/bulkBatchSize/);
  });

  it("falls back to the environment with documented defaults", () => {
    const cfg = resolveCosmosConfig({}, { COSMOS_ENDPOINT: "http://127.0.0.1:1", COSMOS_KEY: "k" });
    expect(cfg).toMatchObject({ endpoint: "http://127.0.0.1:1", key: "k", databaseId: "token_usage_db", containerId: "token_usage" });
    expect(resolveCosmosConfig({}, { COSMOS_ENDPOINT: "e", COSMOS_KEY: "k", COSMOS_CONTAINER: "x" }).containerId).toBe("x");
  });

  it("does no I/O on construction and reports a missing SDK on first use", async () => {
    const store = new CosmosUsageStore({ endpoint: "http://127.0.0.1:9", key: "a2V5" }, () =>
      Promise.reject(new Error("Cannot find package '@azure/cosmos'")),
    );
    await expect(store.getSetting("a", "b")).rejects.toBeInstanceOf(MissingDependencyError);
    await expect(store.getSetting("a", "b")).rejects.toThrow(/npm install @azure\/cosmos/);
  });

  it(`runs on the SDK this run selected (${COSMOS_SDK_CHOICE})`, () => {
    const [major, minor] = cosmosSdkVersion.split(".").map(Number);
    expect(major).toBe(4);
    if (COSMOS_SDK_CHOICE === "latest") expect(minor).toBeGreaterThanOrEqual(10);
    else expect(minor).toBe(9);
  });

  it("builds its own client from endpoint and key with the SDK its importer returns", async () => {
    let imports = 0;
    const store = new CosmosUsageStore(
      { endpoint: local.endpoint, key: LOCAL_KEY, databaseId: local.databaseId, containerId: local.uniqueContainerId("own") },
      async () => {
        imports++;
        const sdk = await importCosmosSdk();
        // The local server advertises an https endpoint it does not serve: discovery off.
        class LocalClient extends sdk.CosmosClient {
          constructor(options: ConstructorParameters<typeof sdk.CosmosClient>[0] & object) {
            super({ ...options, connectionPolicy: { ...options.connectionPolicy, enableEndpointDiscovery: false } });
          }
        }
        return { ...sdk, CosmosClient: LocalClient };
      },
    );
    const r = makeRecord({ userId: `own-${Date.now()}`, timestamp: "2033-04-04T04:04:04.000Z" });
    expect(await store.append([r, r])).toEqual({ inserted: 1, duplicates: 1 });
    expect(await store.get(r.id, r.userId)).toEqual(r);
    expect((await store.aggregate({ filter: { userId: r.userId }, groupBy: ["model"] }))[0].requests).toBe(1);
    expect(imports).toBe(1);
    await store.close();
  });

  it("turns an unreachable account into a StoreError", async () => {
    const store = new CosmosUsageStore({ endpoint: "http://127.0.0.1:9", key: "a2V5", maxAttempts: 1 }, importCosmosSdk);
    await expect(store.get("x", "u")).rejects.toBeInstanceOf(StoreError);
    await store.close();
  });

  it("creates a hierarchical (user_id, month) container when asked", async () => {
    const containerId = local.uniqueContainerId("hpk");
    const store = storeOn(local.endpoint, containerId, { hierarchicalPartitionKey: true });
    const r = makeRecord({ userId: `h-${Date.now()}`, timestamp: "2033-03-03T03:03:03.000Z" });
    expect(await store.append([r, r])).toEqual({ inserted: 1, duplicates: 1 });
    expect(await store.get(r.id, r.userId)).toEqual(r);
    const { resource } = await local.client().database(local.databaseId).container(containerId).read();
    expect(resource?.partitionKey?.paths).toEqual(["/user_id", "/month"]);
    expect((await store.aggregate({ filter: { userId: r.userId }, groupBy: ["model"] }))[0].requests).toBe(1);
    await store.close();
  });
});

function sortRows<T extends { key: Record<string, string | null> }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1));
}
