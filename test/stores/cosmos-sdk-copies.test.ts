/**
 * An application whose `@azure/cosmos` is another copy than the one this package
 * resolves (a different version, nested) hands the store a client of its copy. SDK 4.10+
 * checks the change feed's start position with `instanceof`, so the store must build it
 * with the client's copy: the `sdk` option. The latest-SDK run (Node 24, 4.10+) gives the
 * store such a client without the option, and the failure must say what to pass.
 */
import { describe, expect, it } from "vitest";
import { CosmosUsageStore } from "../../src/stores/cosmos/index.js";
import { makeRecord } from "../contract/make-record.js";
import { COSMOS_SDK_CHOICE, cosmosSdk } from "../support/cosmos-sdk.js";
import { useGlobalStores } from "../support/cosmos-global-stores.js";

const env = useGlobalStores();
const logged: string[] = [];
const logger = {
  warn: (message: string, context?: Record<string, unknown>) => void logged.push(`${message} ${JSON.stringify(context ?? {})}`),
  error: (message: string, context?: Record<string, unknown>) => void logged.push(`${message} ${JSON.stringify(context ?? {})}`),
};

function storeWith(options: { sdk?: object }): CosmosUsageStore {
  const l = env.local;
  return new CosmosUsageStore({
    client: l.client(),
    databaseId: l.databaseId,
    containerId: l.uniqueContainerId("sdk"),
    globalConsumerIntervalMs: 0,
    baseDelayMs: 1,
    maxDelayMs: 20,
    logger,
    ...options,
  });
}

const records = () => [1, 2, 3].map((i) => makeRecord({ userId: `u${i}`, inputTokens: 10 * i, outputTokens: i, timestamp: new Date(Date.now() - i * 60_000).toISOString() }));

describe("a client from the application's own @azure/cosmos copy", () => {
  it("folds the change feed when that copy is passed as `sdk`", async () => {
    const store = storeWith({ sdk: cosmosSdk });
    try {
      await store.append(records());
      await store.flush();
      expect(store.metrics.recordsFolded).toBe(3);
      const total = await store.aggregate({ filter: { start: new Date(Date.now() - 3_600_000).toISOString(), end: new Date().toISOString() }, groupBy: [] });
      expect(total[0].inputTokens).toBe(60);
    } finally {
      await store.close();
    }
  });

  it.runIf(COSMOS_SDK_CHOICE === "latest")("without it, SDK 4.10+ refuses the feed position, and the warning names the `sdk` option", async () => {
    logged.length = 0;
    const store = storeWith({});
    try {
      await store.append(records());
      await store.flush();
      expect(store.metrics.recordsFolded).toBe(0);
      expect(logged.join("\n")).toMatch(/sdk: the Cosmos client given to the store comes from another copy of @azure\/cosmos/);
    } finally {
      await store.close();
    }
  });
});
