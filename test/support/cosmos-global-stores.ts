/**
 * The local server and stores the global-rollup tests share: each store folds the change
 * feed after every append (so a test can read right after writing) and has no background
 * consumer; every store made is closed with the server after the file's tests.
 */
import { afterAll, beforeAll, expect } from "vitest";
import type { UsageRecord } from "../../src/record/types.js";
import { CosmosUsageStore, type CosmosUsageStoreOptions } from "../../src/stores/cosmos/index.js";
import { aggregateInMemory, type AggregateQuery, type AggregateRow, type CostUpdate } from "../../src/stores/types.js";
import { startLocalCosmos, type LocalCosmos } from "./cosmos-server.js";
import { importCosmosSdk } from "./cosmos-sdk.js";

export interface GlobalStores {
  /** The running server (set once the file's beforeAll ran). */
  readonly local: LocalCosmos;
  storeOn(containerId: string, extra?: Partial<CosmosUsageStoreOptions>): CosmosUsageStore;
  /** What a store reads for one view: documents counted at the SDK, requests at the server. */
  documentsRead(store: CosmosUsageStore, q: AggregateQuery): Promise<{ documents: number; requests: number }>;
}

/** Call at the top of a test file: registers the hooks that start and stop the server. */
export function useGlobalStores(): GlobalStores {
  let local: LocalCosmos | undefined;
  const stores: CosmosUsageStore[] = [];
  beforeAll(async () => {
    local = await startLocalCosmos();
  });
  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => undefined);
    await local?.close();
  });
  const running = (): LocalCosmos => {
    if (!local) throw new Error("the local Cosmos server is not started yet (use it inside a test)");
    return local;
  };
  return {
    get local() {
      return running();
    },
    storeOn(containerId, extra = {}) {
      const l = running();
      const s = new CosmosUsageStore(
        {
          client: l.client(),
          databaseId: l.databaseId,
          containerId,
          globalConsumerIntervalMs: 0,
          globalDrainAfterAppend: true,
          baseDelayMs: 1,
          maxDelayMs: 20,
          ...extra,
        },
        importCosmosSdk,
      );
      stores.push(s);
      return s;
    },
    async documentsRead(store, q) {
      const before = store.metrics.documentsRead;
      const opsBefore = running().ops.total;
      await store.aggregate(q);
      return { documents: store.metrics.documentsRead - before, requests: running().ops.total - opsBefore };
    },
  };
}

/** Rows in key order; `seen: false` blanks first/last seen. */
export const sortedRows = (rows: AggregateRow[], seen: boolean) =>
  rows
    .map((r) => (seen ? r : { ...r, firstSeen: null, lastSeen: null }))
    .sort((a, b) => JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)));

/**
 * Every view equals grouping the raw records. `seen: false` leaves out first/last seen,
 * which are bounds once a record left a group (prune, re-price moving it; README).
 */
export async function expectViewsExact(store: CosmosUsageStore, views: AggregateQuery[], records: UsageRecord[], seen = true): Promise<void> {
  for (const q of views) {
    expect(sortedRows(await store.aggregate(q), seen), JSON.stringify(q)).toEqual(sortedRows(aggregateInMemory(records, q), seen));
  }
}

/** New costs for `records` (× factor) and the records as they should read after; `flip` moves every other one between priced and unpriced. */
export function reprice(records: UsageRecord[], factor: number, flip = false): { updates: CostUpdate[]; after: UsageRecord[] } {
  const updates = records.map((r, i) => ({
    id: r.id,
    userId: r.userId,
    inputCostNanos: r.inputCostNanos * factor,
    outputCostNanos: r.outputCostNanos * factor,
    totalCostNanos: r.totalCostNanos * factor,
    priced: flip ? i % 2 === 0 : r.priced,
    priceSource: "repriced",
  }));
  const after = records.map((r, i) => ({
    ...r,
    inputCostNanos: updates[i].inputCostNanos,
    outputCostNanos: updates[i].outputCostNanos,
    totalCostNanos: updates[i].totalCostNanos,
    priced: updates[i].priced,
  }));
  return { updates, after };
}
