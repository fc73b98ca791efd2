/**
 * Cosmos DB through the in-process local server (the real wire protocol, not a real
 * account): batched ingest rate, and how many documents a per-user stats read touches
 * at two dataset sizes, from rollups and from raw records. The local server's query
 * engine slows down quadratically past a few thousand items, so sizes stay small;
 * the counts of documents read, not the milliseconds, are the transferable figure.
 */
import { CosmosClient } from "@azure/cosmos";
import { startExtendedServer } from "../test/support/cosmos-ext/server.js";
import { UsageQueries } from "../src/query/usage-queries.js";
import { CosmosUsageStore } from "../src/stores/cosmos/index.js";
import { DAY_MS, HEAVY_USER, datasetChunks } from "./dataset.js";
import { fmt, type Row } from "./stats.js";

export async function benchCosmos(sizes = [300, 1500]): Promise<Row[]> {
  // The local server extended with atomic transactional batches (the write path needs them).
  const server = await startExtendedServer();
  const endpoint = server.endpoint;
  const client = new CosmosClient({ endpoint, key: "bG9jYWw=", connectionPolicy: { enableEndpointDiscovery: false } });
  const rows: Row[] = [];
  try {
    for (const size of sizes) {
      const store = new CosmosUsageStore({ client, databaseId: "bench", containerId: `usage-${size}` });
      const endMs = Date.UTC(2026, 10, 1);
      // Few users over one day, so the heavy user makes many calls an hour, as a heavy tenant would.
      const options = { total: size, users: 4, heavyShare: 0.5, endMs, days: 1, seed: size };
      let ns = 0n;
      for (const chunk of datasetChunks(options, 100)) {
        const t0 = process.hrtime.bigint();
        await store.append(chunk);
        ns += process.hrtime.bigint() - t0;
      }
      const q = new UsageQueries(store);
      const before = store.metrics.documentsRead;
      const aligned = { start: new Date(endMs - DAY_MS), end: new Date(endMs) };
      const stats = await q.getUserUsage(HEAVY_USER, aligned);
      const viaRollups = store.metrics.documentsRead - before;
      const before2 = store.metrics.documentsRead;
      // A thread filter forces the raw path: every matching record is read.
      await store.aggregate({ filter: { userId: HEAVY_USER, start: aligned.start.toISOString(), end: aligned.end.toISOString() }, groupBy: ["thread"] });
      const viaRaw = store.metrics.documentsRead - before2;
      rows.push(
        { section: "Cosmos (local server)", measure: `${size} records, batches of 100, with rollups`, value: `${fmt(size / (Number(ns) / 1e9))} rec/s` },
        {
          section: "Cosmos (local server)",
          measure: `per-user stats read, heavy user (${stats.totalRequests} records)`,
          value: `${viaRollups} documents`,
          note: `raw records read instead: ${viaRaw} documents`,
        },
      );
      await store.close();
    }
  } finally {
    client.dispose();
    await server.close();
  }
  return rows;
}
