/**
 * `tokenUsagePlugin`: every token-usage route as one Fastify plugin, so it can be
 * mounted into an existing app (`app.register(tokenUsagePlugin, { monitor, prefix })`).
 * It is encapsulated on purpose: its key check and error format apply to its own
 * routes only, never to the host app's.
 */
import type { FastifyInstance } from "fastify";
import { ValidationError } from "../errors.js";
import { registerAuthentication } from "./auth/authenticate.js";
import { handleError } from "./http-errors.js";
import { registerStrictParams } from "./strict-params.js";
import { breakdownRoutes } from "./routes/breakdown-routes.js";
import { budgetRoutes } from "./routes/budget-routes.js";
import { dashboardRoutes } from "./routes/dashboard-routes.js";
import { healthRoutes } from "./routes/health-routes.js";
import { metricsRoutes } from "./metrics/metrics-routes.js";
import { usageRoutes } from "./routes/usage-routes.js";
import type { BudgetApi, ServerMonitor } from "./types.js";

export interface TokenUsagePluginOptions {
  monitor: ServerMonitor;
  /** A budget guard; without one the budget routes answer 501. */
  budget?: BudgetApi;
  /** The key that sees every user's data. @default env TOKEN_USAGE_ADMIN_KEY */
  adminKey?: string;
  /** Serve the dashboard at the plugin's root. @default true */
  dashboard?: boolean;
  /** A key that reads `/metrics` and nothing else (the admin key reads it too). @default env TOKEN_USAGE_METRICS_KEY */
  metricsKey?: string;
  /** How long one store read answers `/metrics` scrapes. @default 5000 */
  metricsCacheMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** A shorter admin key is guessable; refusing it early beats a weak deployment. */
export const MIN_ADMIN_KEY_LENGTH = 16;

export function resolveAdminKey(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return checkedKey(option ?? (env.TOKEN_USAGE_ADMIN_KEY || undefined), "adminKey", "TOKEN_USAGE_ADMIN_KEY");
}

/** The key that reads `/metrics` only, held by a scraper. */
export function resolveMetricsKey(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return checkedKey(option ?? (env.TOKEN_USAGE_METRICS_KEY || undefined), "metricsKey", "TOKEN_USAGE_METRICS_KEY");
}

function checkedKey(key: string | undefined, field: string, variable: string): string | undefined {
  if (key === undefined || key === "") return undefined;
  if (key.length < MIN_ADMIN_KEY_LENGTH || key.length > 512 || /\s/.test(key)) {
    throw new ValidationError(field, `must be ${MIN_ADMIN_KEY_LENGTH} to 512 characters without spaces (set ${variable})`);
  }
  return key;
}

export async function tokenUsagePlugin(app: FastifyInstance, options: TokenUsagePluginOptions): Promise<void> {
  if (!options?.monitor) throw new ValidationError("monitor", "tokenUsagePlugin needs a monitor (createTokenMonitor())");
  const adminKey = resolveAdminKey(options.adminKey, options.env);
  app.setErrorHandler(handleError);
  registerAuthentication(app, options.monitor.store, adminKey);
  registerStrictParams(app);
  await app.register(healthRoutes(options.monitor));
  if (options.dashboard !== false) await app.register(dashboardRoutes);
  await app.register(usageRoutes(options.monitor), { prefix: "/token-usage" });
  await app.register(breakdownRoutes(options.monitor), { prefix: "/token-usage" });
  await app.register(budgetRoutes(options.budget));
  const metricsKey = resolveMetricsKey(options.metricsKey, options.env);
  await app.register(metricsRoutes({ monitor: options.monitor, budget: options.budget, adminKey, metricsKey, cacheMs: options.metricsCacheMs }));
}
