/**
 * Creating (or opening) the database and container. Runs once per store, behind the
 * store's cached promise, so constructing a store never does I/O.
 */
import type { Container, ContainerDefinition, CosmosClient } from "@azure/cosmos";
import { MissingDependencyError, StoreError } from "../../errors.js";
import type { ResolvedCosmosConfig } from "./config.js";

export interface OpenedContainer {
  container: Container;
  hierarchical: boolean;
  /** Set when the store created the client and must dispose of it on close. */
  ownedClient?: CosmosClient;
}

/**
 * Composite indexes the store's ORDER BY queries are served from: records newest first per
 * user (listing), and the leaderboards' top entities of a day or a window by cost
 * (global/leaders.ts). A query ordering by several properties needs a composite index
 * matching its ORDER BY exactly (Microsoft's indexing-policy documentation); with the
 * equality filters first, the service reads only the top entries instead of the cost
 * index of the whole global partition. An existing container gets them by an indexing
 * policy update (README).
 */
export const COMPOSITE_INDEXES: Array<Array<{ path: string; order: "ascending" | "descending" }>> = [
  [
    { path: "/user_id", order: "ascending" },
    { path: "/timestamp", order: "descending" },
  ],
  [
    { path: "/type", order: "ascending" },
    { path: "/epoch", order: "ascending" },
    { path: "/day", order: "ascending" },
    { path: "/cost", order: "descending" },
  ],
  [
    { path: "/type", order: "ascending" },
    { path: "/epoch", order: "ascending" },
    { path: "/win", order: "ascending" },
    { path: "/cost", order: "descending" },
  ],
];

/** Only what the store filters or sorts on is indexed: metadata and rollup bodies are not. */
export function containerDefinition(cfg: ResolvedCosmosConfig): ContainerDefinition {
  return {
    id: cfg.containerId,
    partitionKey: cfg.hierarchicalPartitionKey
      ? { paths: ["/user_id", "/month"], version: 2, kind: "MultiHash" as never }
      : { paths: ["/user_id"] },
    defaultTtl: cfg.defaultTtlSeconds,
    indexingPolicy: {
      indexingMode: "consistent",
      automatic: true,
      includedPaths: [{ path: "/*" }],
      excludedPaths: [
        { path: "/request_metadata/*" },
        { path: "/tags/*" },
        { path: "/error_message/?" },
        { path: "/groups/*" },
        { path: "/g/*" },
        // Global dimension documents: values and totals are only read whole, never filtered on.
        { path: "/d/*" },
        { path: "/all/*" },
        { path: "/value/*" },
        // Budget counters are only read by id: their per-holder leases and a rolling window's
        // buckets (up to 61 keys) would otherwise be indexed on every report.
        { path: "/leases/*" },
        { path: "/buckets/*" },
        { path: '/"_etag"/?' },
      ],
      compositeIndexes: COMPOSITE_INDEXES,
    },
  };
}

export type CosmosSdk = typeof import("@azure/cosmos");

/** Loads the optional SDK on first use; `importer` is replaceable for tests of a missing package. */
export async function loadCosmosSdk(importer: () => Promise<unknown> = () => import("@azure/cosmos")): Promise<CosmosSdk> {
  try {
    return (await importer()) as CosmosSdk;
  } catch (err) {
    throw new MissingDependencyError("@azure/cosmos", "The Cosmos DB store", { cause: err });
  }
}

export async function openContainer(
  cfg: ResolvedCosmosConfig,
  importSdk?: () => Promise<unknown>,
): Promise<OpenedContainer> {
  let container = cfg.container;
  let ownedClient: CosmosClient | undefined;
  if (!container) {
    let client = cfg.client;
    if (!client) {
      const sdk = await loadCosmosSdk(importSdk);
      client = ownedClient = new sdk.CosmosClient({
        endpoint: cfg.endpoint!,
        key: cfg.key!,
        connectionPolicy: {
          retryOptions: { maxRetryAttemptCount: 9, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: 30 },
        },
      });
    }
    if (cfg.createIfMissing) {
      const { database } = await client.databases.createIfNotExists({ id: cfg.databaseId });
      const created = await database.containers.createIfNotExists(
        containerDefinition(cfg),
        cfg.throughput ? { offerThroughput: cfg.throughput } : undefined,
      );
      container = created.container;
    } else {
      container = client.database(cfg.databaseId).container(cfg.containerId);
    }
  }
  const { resource } = await container.read();
  const paths = resource?.partitionKey?.paths ?? [];
  const hierarchical = paths.length === 2 && paths[0] === "/user_id" && paths[1] === "/month";
  if (!hierarchical && !(paths.length === 1 && paths[0] === "/user_id")) {
    throw new StoreError(
      `container "${container.id}" is partitioned by ${JSON.stringify(paths)}; the usage store needs "/user_id" ` +
        `(or ["/user_id", "/month"]): use a new container`,
    );
  }
  return { container, hierarchical, ownedClient };
}
