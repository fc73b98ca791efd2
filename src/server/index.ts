/** The REST API, dashboard and API keys (re-exports only). */
export { buildApp, type BuildAppOptions } from "./build-app.js";
export { tokenUsagePlugin, type TokenUsagePluginOptions } from "./plugin.js";
export { startServer, isLoopback, type StartServerOptions, type RunningServer } from "./start-server.js";
export { createApiKey, listApiKeys, revokeApiKey, verifyApiKey, type ApiKeyInfo } from "./auth/api-keys.js";
export type { BudgetApi, Principal, ServerMonitor } from "./types.js";
