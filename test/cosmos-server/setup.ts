/**
 * One extended local server per test file and a fresh container per test, partitioned by
 * `/userId` (camelCase on purpose: the package lower-cases patch predicates).
 */
import type { Container, CosmosClient } from "@azure/cosmos";
import { afterAll, beforeAll } from "vitest";
import { LOCAL_KEY, startLocalCosmos, type LocalCosmos } from "../support/cosmos-server.js";

export interface LocalServer {
  local: LocalCosmos;
  client: CosmosClient;
  /** A client that never retries a 429 itself, so injected throttles reach the caller. */
  noRetryClient: CosmosClient;
  container(): Promise<Container>;
}

export function useLocalServer(): LocalServer {
  const ctx = {} as LocalServer;
  beforeAll(async () => {
    ctx.local = await startLocalCosmos();
    ctx.client = ctx.local.client();
    ctx.noRetryClient = new (ctx.client.constructor as typeof CosmosClient)({
      endpoint: ctx.local.endpoint,
      key: LOCAL_KEY,
      connectionPolicy: { enableEndpointDiscovery: false, retryOptions: { maxRetryAttemptCount: 0, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: 0 } },
    });
    await ctx.client.databases.createIfNotExists({ id: ctx.local.databaseId });
  });
  afterAll(async () => {
    ctx.noRetryClient?.dispose();
    await ctx.local?.close();
  });
  ctx.container = async () => {
    const { container } = await ctx.client
      .database(ctx.local.databaseId)
      .containers.createIfNotExists({ id: ctx.local.uniqueContainerId(), partitionKey: { paths: ["/userId"] } });
    return container;
  };
  return ctx;
}
