/**
 * The in-process Cosmos DB stand-in and helpers to get a fresh container per test file or
 * test. It is `@vercel/cosmosdb-server` (plain HTTP on 127.0.0.1) extended with what the
 * package lacks and the service documents (cosmos-ext/): atomic transactional batches
 * (207 / 424), patch inside batches with the documented semantics and filter predicates,
 * and an incremental change feed ordered by a logical sequence number. The returned object
 * also injects faults and counts requests (cosmos-ext/faults.ts).
 */
import { randomUUID } from "node:crypto";
import type { CosmosClient } from "@azure/cosmos";
import type { CosmosFaults, OperationCounter } from "./cosmos-ext/faults.js";
import { startExtendedServer, type ServerClock } from "./cosmos-ext/server.js";
import { cosmosSdk } from "./cosmos-sdk.js";

export type { FaultSpec, RequestKind } from "./cosmos-ext/faults.js";

/** The emulator's well-known key shape; the local server accepts any key. */
export const LOCAL_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

export interface LocalCosmos {
  endpoint: string;
  client(endpoint?: string): CosmosClient;
  /** A database id unique to this server instance. */
  databaseId: string;
  uniqueContainerId(prefix?: string): string;
  /** `faults.failNext("batch", n, { status: 429, retryAfterMs })`: whole-request errors on demand. */
  faults: CosmosFaults;
  /** Requests received by kind, and operations inside batch and bulk requests. */
  ops: OperationCounter;
  /** The time the server's answers give (`Date`): `clock.set(at)` moves it. */
  clock: ServerClock;
  close(): Promise<void>;
}

export async function startLocalCosmos(): Promise<LocalCosmos> {
  const server = await startExtendedServer();
  const { endpoint } = server;
  const clients: CosmosClient[] = [];
  return {
    endpoint,
    databaseId: `db-${randomUUID().slice(0, 8)}`,
    faults: server.faults,
    ops: server.ops,
    clock: server.clock,
    client(ep = endpoint) {
      // The SDK selected for this run (cosmos-sdk.ts): 4.9 or the newest 4.x.
      const c = new cosmosSdk.CosmosClient({
        endpoint: ep,
        key: LOCAL_KEY,
        connectionPolicy: { enableEndpointDiscovery: false },
      });
      clients.push(c);
      return c;
    },
    uniqueContainerId(prefix = "c") {
      return `${prefix}-${randomUUID().slice(0, 8)}`;
    },
    async close() {
      for (const c of clients) c.dispose();
      await server.close();
    },
  };
}
