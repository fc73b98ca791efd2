/**
 * Dimension views (aggregates grouped by a charge-back dimension, no user filter) from the
 * global dimension documents on the extended local server: exact against grouping the raw
 * records after a flush, after re-pricing and pruning, with hostile names and values, with
 * a dimension too wide to keep (read raw for its periods); documents read stay flat as the
 * fleet grows.
 */
import { describe, expect, it } from "vitest";
import type { UsageRecord } from "../../src/record/types.js";
import { CosmosUsageStore } from "../../src/stores/cosmos/index.js";
import { aggregateInMemory, type AggregateQuery } from "../../src/stores/types.js";
import { UsageQueries } from "../../src/query/usage-queries.js";
import { makeRecord } from "../contract/make-record.js";
import { expectViewsExact, reprice, sortedRows, useGlobalStores } from "../support/cosmos-global-stores.js";

const fleetStores = useGlobalStores();
const storeOn = (containerId: string) => fleetStores.storeOn(containerId);

const DAY0 = Date.UTC(2035, 4, 1);
const HOUR = 3_600_000;
const HOSTILE = ['a "quoted" value', "x".repeat(256), "ünïcødé ✓ 日本", "__proto__", "constructor", "", "it's ' and \\ and \n"];

/** Records over `days` days; tenants (some records without one), hostile values, a dimension name using every allowed character class. */
function fleet(tag: string, users: number, perUser: number, days = 10): UsageRecord[] {
  const out: UsageRecord[] = [];
  for (let u = 0; u < users; u++) {
    for (let i = 0; i < perUser; i++) {
      const n = u * perUser + i;
      const dimensions: Record<string, string> = {};
      if (n % 5 !== 0) dimensions.tenant = `tenant-${n % 4}`;
      if (n % 3 === 0) dimensions.odd = HOSTILE[n % HOSTILE.length];
      if (n % 7 === 0) dimensions["x.Y-z_9"] = `p${n % 2}`;
      out.push(
        makeRecord({
          id: `${tag}-${u}-${i}`,
          userId: `${tag}-user-${u}`,
          model: n % 2 ? "gpt-4o" : "gpt-4o-mini",
          priced: n % 6 !== 0,
          timestamp: new Date(DAY0 + ((n * 7_919_000) % (days * 24 * HOUR)) + (n % 59) * 1000).toISOString(),
          inputTokens: 100 + (n % 50),
          outputTokens: 10 + (n % 17),
          inputCostNanos: 1000 + n,
          outputCostNanos: 500 + 3 * n,
          totalCostNanos: 1500 + 4 * n,
          dimensions,
        }),
      );
    }
  }
  return out;
}

const RANGE = { start: new Date(DAY0).toISOString(), end: new Date(DAY0 + 10 * 24 * HOUR).toISOString() };
const ODD_RANGE = { start: new Date(DAY0 + 5 * HOUR + 17 * 60_000).toISOString(), end: new Date(DAY0 + 7 * 24 * HOUR + 3 * HOUR + 41 * 60_000).toISOString() };
const VIEWS: AggregateQuery[] = ["tenant", "odd", "x.Y-z_9", "absent"].flatMap((d): AggregateQuery[] => [
  { filter: RANGE, groupBy: [`dimension:${d}`] },
  { filter: ODD_RANGE, groupBy: [`dimension:${d}`] },
  { filter: RANGE, groupBy: [`dimension:${d}`, "day"] },
  { filter: ODD_RANGE, groupBy: ["hour", `dimension:${d}`] },
  { filter: {}, groupBy: [`dimension:${d}`] },
]);

const expectExact = (store: CosmosUsageStore, records: UsageRecord[], seen = true) => expectViewsExact(store, VIEWS, records, seen);
const cost = fleetStores.documentsRead;
// Every re-price here also moves every other record between priced and unpriced.
const repriceFlipping = (records: UsageRecord[], factor: number) => reprice(records, factor, true);
const sorted = sortedRows;

describe("dimension views from the global dimension documents", () => {
  it("are exact after a flush, with hostile names and values, and read the dimension documents, not records", async () => {
    const store = storeOn(fleetStores.local.uniqueContainerId("d-exact"));
    const records = fleet("a", 6, 30);
    await store.append(records.slice(0, 90));
    await store.append(records.slice(90));
    await expectExact(store, records);
    // 10 whole days: the lease and at most 10 day documents, whatever the number of records.
    const read = await cost(store, { filter: RANGE, groupBy: ["dimension:tenant"] });
    expect(read.documents).toBeGreaterThan(1);
    expect(read.documents).toBeLessThanOrEqual(11);
    // The query service's charge-back view answers the same.
    const byTenant = await new UsageQueries(store).getUsageBy("tenant", RANGE);
    const expected = aggregateInMemory(records, { filter: RANGE, groupBy: ["dimension:tenant"] });
    expect(byTenant.map((r) => [r.key, r.totalTokens]).sort()).toEqual(expected.map((r) => [r.key["dimension:tenant"], r.totalTokens]).sort());
  });

  it("stay exact after re-pricing and pruning", async () => {
    const store = storeOn(fleetStores.local.uniqueContainerId("d-maint"));
    const records = fleet("b", 4, 30);
    await store.append(records);
    const { updates, after } = repriceFlipping(records.slice(0, 40), 3);
    expect(await store.updateCosts(updates)).toBe(40);
    let now = [...after, ...records.slice(40)];
    await expectExact(store, now, false);
    const cut = new Date(DAY0 + 4 * 24 * HOUR + 5 * HOUR + 30 * 60_000).toISOString();
    expect(await store.prune(cut, { userId: "b-user-1" })).toBe(now.filter((r) => r.userId === "b-user-1" && r.timestamp < cut).length);
    now = now.filter((r) => !(r.userId === "b-user-1" && r.timestamp < cut));
    await expectExact(store, now, false);
    const cut2 = new Date(DAY0 + 6 * 24 * HOUR).toISOString();
    await store.prune(cut2);
    now = now.filter((r) => r.timestamp >= cut2);
    await expectExact(store, now, false);
    // A rebuild starts a new epoch and builds the same answers.
    await store.rebuildRollups();
    await expectExact(store, now, false);
  });

  it("a dimension with too many values for a day is read from its hours (raw where an hour is over too); the others keep their documents", async () => {
    const id = fleetStores.local.uniqueContainerId("d-wide");
    const store = storeOn(id);
    // 600 distinct 250-character values in one day: more than a 200 KB document holds.
    const records = fleet("c", 4, 150, 1).map((r, n) => ({ ...r, dimensions: { ...r.dimensions, request: `${n}-${"w".repeat(246)}` } }));
    await store.append(records);
    const wide: AggregateQuery = { filter: { start: RANGE.start, end: new Date(DAY0 + 24 * HOUR).toISOString() }, groupBy: ["dimension:request"] };
    expect(sorted(await store.aggregate(wide), true)).toEqual(sorted(aggregateInMemory(records, wide), true));
    expect((await store.aggregate(wide)).length).toBe(600);
    await expectExact(store, records);
    const { resources } = await fleetStores.local
      .client()
      .database(fleetStores.local.databaseId)
      .container(id)
      .items.query<{ size: number; over: boolean }>({ query: "SELECT LENGTH(ToString(c)) AS size, c.d FROM c WHERE c.type = 'global-dims-day'" })
      .fetchAll();
    expect(resources.length).toBe(1);
    const doc = JSON.stringify(resources[0]);
    expect(doc).toContain('"over":true');
    expect(doc.length).toBeLessThan(200_000);
    // The wide one from the day's hour documents (about 25 values each), not from the 600 records.
    const wideRead = await cost(store, wide);
    expect(wideRead.documents).toBeLessThanOrEqual(1 + 1 + 24);
    // The narrow dimension is still read from the document: the lease and one day document, no raw record.
    const narrow = await cost(store, { ...wide, groupBy: ["dimension:tenant"] });
    expect(narrow.documents).toBe(2);
    // All in one hour: the hour is over too, and is read raw; still exact.
    const packed = storeOn(fleetStores.local.uniqueContainerId("d-wide-hour"));
    const oneHour = records.map((r, n) => ({ ...r, id: `${r.id}-h`, timestamp: new Date(DAY0 + 2 * HOUR + n * 1000).toISOString() }));
    await packed.append(oneHour);
    expect(sorted(await packed.aggregate(wide), true)).toEqual(sorted(aggregateInMemory(oneHour, wide), true));
    expect((await cost(packed, wide)).documents).toBeGreaterThanOrEqual(oneHour.length);
  });

  it("read the same documents and requests at 4, 16 and 64 users", async () => {
    const reads: Array<{ documents: number; requests: number }> = [];
    for (const users of [4, 16, 64]) {
      const store = storeOn(fleetStores.local.uniqueContainerId(`d-flat-${users}`));
      // Every fleet has records in every whole hour the range touches, and none in its two
      // partial hours (read raw, growing with records by design), so only the fleet's size differs.
      const hourOf = (n: number) => (n % 80 === 5 || n % 80 === 75 ? (n % 80) + 1 : n % 80);
      const records = fleet(`f${users}`, users, 24).map((r, n) => ({ ...r, timestamp: new Date(DAY0 + hourOf(n) * HOUR + 60_000).toISOString() }));
      await store.append(records);
      const range = { start: new Date(DAY0 + 5 * HOUR + 17 * 60_000).toISOString(), end: new Date(DAY0 + 3 * 24 * HOUR + 3 * HOUR + 41 * 60_000).toISOString() };
      reads.push(await cost(store, { filter: range, groupBy: ["dimension:tenant"] }));
    }
    expect(reads[0].documents).toBeGreaterThan(0);
    expect(reads[1]).toEqual(reads[0]);
    expect(reads[2]).toEqual(reads[0]);
  });

  it("an epoch begun by a version without dimension documents reads raw until rebuildRollups()", async () => {
    const id = fleetStores.local.uniqueContainerId("d-upgrade");
    const store = storeOn(id);
    const records = fleet("u", 3, 30);
    await store.append(records.slice(0, 40));
    // The lease as an earlier version wrote it: no `dims`.
    const container = fleetStores.local.client().database(fleetStores.local.databaseId).container(id);
    const { resource: lease } = await container.item("~glease", "__global__").read();
    delete lease.dims;
    await container.item("~glease", "__global__").replace(lease);
    await store.append(records.slice(40));
    const q: AggregateQuery = { filter: RANGE, groupBy: ["dimension:tenant"] };
    expect(sorted(await store.aggregate(q), true)).toEqual(sorted(aggregateInMemory(records, q), true));
    expect((await cost(store, q)).documents).toBeGreaterThan(records.length);
    await store.rebuildRollups();
    await expectExact(store, records);
    expect((await cost(store, q)).documents).toBeLessThanOrEqual(11);
  });
});
