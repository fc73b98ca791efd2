export { CosmosUsageStore, type CosmosStoreMetrics } from "./cosmos-usage-store.js";
export { resolveCosmosConfig, type CosmosUsageStoreOptions, type CosmosStoreLogger, type CosmosClientLike, type CosmosContainerLike } from "./config.js";
export { containerDefinition } from "./container-setup.js";
