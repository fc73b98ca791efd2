/**
 * Which `@azure/cosmos` the Cosmos tests load. By default the version the package is
 * developed against (4.9, the oldest supported, the last that runs on Node 20); with
 * TOKEN_USAGE_TEST_COSMOS_SDK=latest the newest 4.x, installed as the dev alias
 * `@azure/cosmos-latest` (4.10+ needs Node 22). The store itself is SDK-agnostic: the
 * tests hand it clients built from the selected SDK, and `importCosmosSdk` as its
 * importer where the store builds its own client.
 */
export type CosmosSdkModule = typeof import("@azure/cosmos");

export const COSMOS_SDK_CHOICE: "4.9" | "latest" = process.env.TOKEN_USAGE_TEST_COSMOS_SDK === "latest" ? "latest" : "4.9";

/** The selected SDK module, typed as the 4.9 API the store is written against. */
export async function importCosmosSdk(): Promise<CosmosSdkModule> {
  if (COSMOS_SDK_CHOICE === "latest") return (await import("@azure/cosmos-latest")) as unknown as CosmosSdkModule;
  return import("@azure/cosmos");
}

export const cosmosSdk: CosmosSdkModule = await importCosmosSdk();

/** The SDK's own version string (`Constants.SDKVersion`), to show which one a run used. */
export const cosmosSdkVersion: string = cosmosSdk.Constants.SDKVersion;

/**
 * Compile-time check (`npm test` type-checks test/): a client and a container of the
 * newest SDK, with its own declarations, fit the store's options without a cast.
 */
export const newestSdkOptions = (
  client: import("@azure/cosmos-latest").CosmosClient,
  container: import("@azure/cosmos-latest").Container,
): Array<import("../../src/stores/cosmos/index.js").CosmosUsageStoreOptions> => [{ client }, { container }];
