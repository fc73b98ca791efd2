/**
 * A process writing to Cosmos DB is killed (SIGKILL) in the middle of a flush; the
 * next process replays its journal. Every record must be stored once, and every
 * per-user hour and day rollup must equal the raw records (a batch commits a record
 * and its rollup share together or neither), and so must the global rollups the
 * change-feed consumer keeps (the child ran the consumer after each flush too).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UsageRecord } from "../../src/record/types.js";
import { CosmosUsageStore } from "../../src/stores/cosmos/index.js";
import { aggregateInMemory, type AggregateQuery, type AggregateRow } from "../../src/stores/types.js";
import { startLocalCosmos, type LocalCosmos } from "../support/cosmos-server.js";
import { importCosmosSdk } from "../support/cosmos-sdk.js";
import { expectRollupsExact } from "../support/cosmos-rollup-check.js";
import { isBulkRequest, startThrottleProxy } from "../support/cosmos-throttle-proxy.js";
import { startFixture } from "./support/children.js";

let local: LocalCosmos;
beforeAll(async () => {
  local = await startLocalCosmos();
});
afterAll(async () => {
  await local?.close();
});

describe("Cosmos writer killed mid-flush", () => {
  it("replaying the journal leaves every record once and every rollup equal to the records", async () => {
    const containerId = local.uniqueContainerId("killed");
    const store = new CosmosUsageStore({ client: local.client(), databaseId: local.databaseId, containerId }, importCosmosSdk);
    await store.getSetting("create", "container");
    const journal = join(mkdtempSync(join(tmpdir(), "tt-cosmos-kill-")), "journal.jsonl");
    // The child talks through a proxy that, once told to, holds one user's batches with
    // 429s: that flush stays in progress while its other partitions commit; then SIGKILL.
    const proxy = await startThrottleProxy(local.endpoint, 5);
    let stall = false;
    proxy.decide = (req) =>
      stall && isBulkRequest(req) && String(req.headers["x-ms-documentdb-partitionkey"]).includes("killed-2") ? "throttle" : "forward";
    const child = startFixture("cosmos-flush-child.ts", [proxy.endpoint, local.databaseId, containerId, journal]);
    try {
      await child.waitFor(/^sending 8$/, 30_000);
      stall = true;
      for (let t = 0; t < 500 && proxy.counts.throttle < 2; t++) await new Promise((r) => setTimeout(r, 5));
      child.child.kill("SIGKILL");
      await child.exited;
    } finally {
      await proxy.close();
    }

    const journaled = readFileSync(journal, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as UsageRecord);
    const c = local.client().database(local.databaseId).container(containerId);
    const before = await expectRollupsExact(c);
    console.log(`[faults] cosmos SIGKILL mid-flush: ${journaled.length} records journaled, ${before.length} stored before the replay`);
    expect(before.length).toBeGreaterThan(0);
    expect(before.length).toBeLessThan(journaled.length);
    // Killed mid-flush: part of a flush (some of its partitions) committed, the rest did not.
    expect(before.length % 30).not.toBe(0);

    const replay = await store.append(journaled);
    expect(replay.inserted + replay.duplicates).toBe(journaled.length);
    expect(replay.duplicates).toBe(before.length);
    const after = await expectRollupsExact(c);
    expect(after.map((r) => r.id).sort()).toEqual(journaled.map((r) => r.id).sort());
    // Folding the feed (what the monitor's flush does): the global views equal the records.
    await store.flush();
    const sorted = (rows: AggregateRow[]) => [...rows].sort((a, b) => JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)));
    const views: AggregateQuery[] = [
      { filter: {}, groupBy: ["model"] },
      { filter: { start: "2036-01-01T00:00:00.000Z", end: "2036-01-03T00:00:00.000Z" }, groupBy: ["hour", "provider"] },
    ];
    const reads = store.metrics.documentsRead;
    for (const q of views) expect(sorted(await store.aggregate(q))).toEqual(sorted(aggregateInMemory(journaled, q)));
    // From the global rollups (a handful of documents), not the stored records.
    expect(store.metrics.documentsRead - reads).toBeLessThan(journaled.length / 2);
    await store.close();
  });
});
