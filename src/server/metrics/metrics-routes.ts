/**
 * `GET /metrics`: usage totals and budget gauges in the Prometheus text format, for a
 * Prometheus (or Grafana Agent, or OpenTelemetry Collector) scrape. It needs the admin
 * key or the metrics key (`TOKEN_USAGE_METRICS_KEY`), so a scraper can hold a key that
 * reads nothing else; user keys are refused, since the totals cover every user.
 *
 * One store aggregate per scrape, over the global rollups; concurrent or frequent
 * scrapes within `cacheMs` share it.
 */
import type { FastifyInstance } from "fastify";
import { presentedKey } from "../auth/authenticate.js";
import { secretsEqual } from "../auth/api-keys.js";
import { HttpError } from "../http-errors.js";
import { querySchema, security } from "../schemas.js";
import type { BudgetApi, ServerMonitor } from "../types.js";
import { PROMETHEUS_CONTENT_TYPE, renderExposition } from "./exposition.js";
import { budgetFamilies, usageFamilies, type BudgetStatusRow } from "./usage-families.js";

export interface MetricsRouteOptions {
  monitor: ServerMonitor;
  budget?: BudgetApi;
  adminKey?: string;
  metricsKey?: string;
  /** How long one store read answers scrapes. @default 5000 */
  cacheMs?: number;
}

const HOUR = 3_600_000;
const SINCE = new Date("2000-01-01T00:00:00Z");

export function metricsRoutes(options: MetricsRouteOptions) {
  const keys = [options.adminKey, options.metricsKey].filter((k): k is string => typeof k === "string" && k !== "");
  const cacheMs = options.cacheMs ?? 5000;
  let cached: { at: number; text: Promise<string> } | null = null;

  const render = async (): Promise<string> => {
    // All time up to the end of the next hour: whole hours, so the store answers from
    // its daily and hourly rollups only (a clock slightly ahead is still counted).
    const end = new Date((Math.floor(Date.now() / HOUR) + 2) * HOUR);
    const [rows, statuses] = await Promise.all([
      options.monitor.aggregate({ start: SINCE.toISOString(), end: end.toISOString() }, ["provider", "model", "agent", "operation"]),
      options.budget ? (options.budget.getBudgetStatus as (userId?: string) => unknown)() : [],
    ]);
    return renderExposition([...usageFamilies(rows), ...budgetFamilies(Array.isArray(statuses) ? (statuses as BudgetStatusRow[]) : [])]);
  };

  return async function register(app: FastifyInstance): Promise<void> {
    app.get(
      "/metrics",
      {
        // The usual API-key hook would let user keys through; this route checks its own keys.
        config: { public: true },
        schema: {
          tags: ["metrics"],
          summary: "Usage totals and budget gauges in the Prometheus text format (admin or metrics key)",
          querystring: querySchema({}),
          response: { 200: { type: "string", description: "Prometheus text exposition format 0.0.4" } },
          security,
        },
      },
      async (request, reply) => {
        const key = presentedKey(request);
        if (key === undefined || key.length > 512 || !keys.some((k) => secretsEqual(key, k))) {
          throw new HttpError(401, "Unauthorized", "/metrics needs the admin key or the metrics key (TOKEN_USAGE_METRICS_KEY)");
        }
        const now = Date.now();
        if (!cached || now - cached.at >= cacheMs) {
          const text = render();
          cached = { at: now, text };
          text.catch(() => {
            if (cached?.text === text) cached = null; // a failed read is not served again
          });
        }
        return reply.type(PROMETHEUS_CONTENT_TYPE).send(await cached.text);
      },
    );
  };
}
