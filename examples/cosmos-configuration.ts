/**
 * Azure Cosmos DB as the store: `createTokenMonitor({ store: "cosmos", cosmos: {...} })`.
 * With COSMOS_ENDPOINT and COSMOS_KEY set it uses that account; otherwise it starts
 * a local stand-in (`@vercel/cosmosdb-server`, in-process, plain HTTP on 127.0.0.1)
 * so the example runs offline. The database and container (partitioned by
 * `/user_id`) are created on first use; records and statistics work as on SQLite.
 * For Entra ID, pass a ready client instead: `cosmos: { client: new CosmosClient({ endpoint, aadCredentials }) }`.
 *
 * Run: npx tsx examples/cosmos-configuration.ts
 */
import type { AddressInfo } from "node:net";
import { CosmosClient } from "@azure/cosmos";
import { createHttpServer } from "@vercel/cosmosdb-server";
import { createTokenMonitor } from "../src/index.js";
import { usd } from "./lib/example-db.js";

let endpoint = process.env.COSMOS_ENDPOINT;
let key = process.env.COSMOS_KEY;
let localServer: ReturnType<typeof createHttpServer> | undefined;
if (!endpoint || !key) {
  localServer = createHttpServer();
  await new Promise<void>((resolve) => localServer!.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(localServer.address() as AddressInfo).port}`;
  key = "bG9jYWwtc3RhbmQtaW4ta2V5"; // the stand-in accepts any key
}
console.log(`Cosmos DB endpoint: ${endpoint}${localServer ? " (local in-process stand-in)" : ""}`);

// A client of our own (the store never closes a client it did not create); with
// `cosmos: { endpoint, key }` the store makes one itself. The stand-in advertises
// https locations, so the client must keep to the endpoint it was given.
const client = new CosmosClient({ endpoint, key, connectionPolicy: { enableEndpointDiscovery: !localServer } });
const monitor = createTokenMonitor({
  store: "cosmos",
  cosmos: { client, databaseId: "token_usage_example", containerId: "token_usage" },
});

const calls = [
  { userId: "alice", threadId: "a-1", provider: "openai", model: "gpt-4o-mini", inputTokens: 1200, outputTokens: 300 },
  { userId: "alice", threadId: "a-1", provider: "openai", model: "gpt-4o-mini", inputTokens: 1800, outputTokens: 250, cacheReadTokens: 1024 },
  { userId: "alice", threadId: "a-2", provider: "anthropic", model: "claude-3-5-haiku-20241022", inputTokens: 2500, outputTokens: 400 },
  { userId: "bob", threadId: "b-1", provider: "openai", model: "gpt-4o", inputTokens: 3000, outputTokens: 700 },
];
for (const call of calls) await monitor.trackUsage(call);
await monitor.flush({ timeoutMs: 30_000 }); // bulk-written to the container, partitioned by user_id

for (const user of ["alice", "bob"]) {
  const s = await monitor.getUserUsage(user, { days: 1 });
  console.log(`${user}: ${s.totalRequests} calls, ${s.totalTokens} tokens (${s.cacheReadTokens} cached), ${usd(s.totalCost)}, by model ${JSON.stringify(s.costByModel)}`);
}
const thread = await monitor.getThreadUsage("a-1");
console.log(`thread a-1: ${thread.totalRequests} calls, ${usd(thread.totalCost)}`);

await monitor.close();
client.dispose();
if (localServer) {
  localServer.closeAllConnections();
  await new Promise<void>((resolve) => localServer!.close(() => resolve()));
}
