/**
 * The local server and stores the global-rollup tests share: each store folds the change
 * feed after every append (so a test can read right after writing) and has no background
 * consumer; every store made is closed with the server after the file's tests.
 */
import { afterAll, beforeAll } from "vitest";
import { CosmosUsageStore, type CosmosUsageStoreOptions } from "../../src/stores/cosmos/index.js";
import { startLocalCosmos, type LocalCosmos } from "./cosmos-server.js";
import { importCosmosSdk } from "./cosmos-sdk.js";

export interface GlobalStores {
  /** The running server (set once the file's beforeAll ran). */
  readonly local: LocalCosmos;
  storeOn(containerId: string, extra?: Partial<CosmosUsageStoreOptions>): CosmosUsageStore;
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
  };
}
