export { SqliteUsageStore, type SqliteUsageStoreOptions } from "./sqlite-usage-store.js";
