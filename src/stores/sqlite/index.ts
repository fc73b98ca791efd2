export { SqliteUsageStore, type SqliteUsageStoreOptions } from "./sqlite-usage-store.js";
export { SqliteWorkerStore } from "./sqlite-worker-store.js";
