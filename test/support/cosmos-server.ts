/**
 * The in-process Cosmos DB stand-in (`@vercel/cosmosdb-server`, plain HTTP on
 * 127.0.0.1) and helpers to get a fresh container per test file or test.
 */
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { CosmosClient } from "@azure/cosmos";
import { createHttpServer } from "@vercel/cosmosdb-server";

/** The emulator's well-known key shape; the local server accepts any key. */
export const LOCAL_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

export interface LocalCosmos {
  endpoint: string;
  client(endpoint?: string): CosmosClient;
  /** A database id unique to this server instance. */
  databaseId: string;
  uniqueContainerId(prefix?: string): string;
  close(): Promise<void>;
}

export async function startLocalCosmos(): Promise<LocalCosmos> {
  const server = createHttpServer({ keepAlive: true } as never);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: CosmosClient[] = [];
  return {
    endpoint,
    databaseId: `db-${randomUUID().slice(0, 8)}`,
    client(ep = endpoint) {
      const c = new CosmosClient({
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
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
