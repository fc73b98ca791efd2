/** Usage grouped by model, agent, provider or a charge-back dimension; trends, top lists, the report. */
import type { FastifyInstance } from "fastify";
import { DEFAULT_LATENCY_SAMPLE, MAX_LATENCY_SAMPLE, modelLatency } from "../../query/model-latency.js";
import type { Granularity } from "../../query/time-buckets.js";
import { requireAdmin, scopedUser } from "../auth/authenticate.js";
import { HttpError } from "../http-errors.js";
import {
  granularityProperty,
  idString,
  limitProperty,
  querySchema,
  rangeOf,
  rangeProperties,
  security,
  userFilterProperty,
} from "../schemas.js";
import type { RangeQuery, ServerMonitor } from "../types.js";

type Scoped = RangeQuery & { userId?: string };

const scopedQuery = querySchema({ ...rangeProperties, ...userFilterProperty });

export function breakdownRoutes(monitor: ServerMonitor) {
  return async function register(app: FastifyInstance): Promise<void> {
    const grouped = (path: string, summary: string, run: (options: Scoped) => Promise<unknown>) =>
      app.get<{ Querystring: Scoped }>(path, { schema: { tags: ["breakdowns"], summary, querystring: scopedQuery, security } }, async (request) =>
        run({ ...rangeOf(request.query), userId: scopedUser(request, request.query.userId) }),
      );

    grouped("/by-model", "Usage per model", (o) => monitor.getUsageByModel(o));
    grouped("/by-agent", "Usage per agent", (o) => monitor.getUsageByAgent(o));
    grouped("/by-provider", "Usage per provider", (o) => monitor.getUsageByProvider(o));

    app.get<{ Querystring: Scoped & { maxRecords?: number } }>(
      "/latency-by-model",
      {
        schema: {
          tags: ["breakdowns"],
          summary: "Latency percentiles (p50, p95) and error rate per model, from the newest `maxRecords` calls of the range",
          querystring: querySchema({
            ...rangeProperties,
            ...userFilterProperty,
            maxRecords: {
              type: "integer",
              minimum: 1,
              maximum: MAX_LATENCY_SAMPLE,
              description: `Calls read at most, newest first (default ${DEFAULT_LATENCY_SAMPLE}); \`truncated\` says when the range held more.`,
            },
          }),
          security,
        },
      },
      async (request) => {
        const { maxRecords, userId } = request.query;
        return modelLatency(monitor, { ...rangeOf(request.query), userId: scopedUser(request, userId), maxRecords });
      },
    );

    app.get<{ Params: { dimension: string }; Querystring: Scoped }>(
      "/by/:dimension",
      {
        schema: {
          tags: ["breakdowns"],
          summary: "Usage per value of a charge-back dimension (tenant, feature, ...)",
          params: {
            type: "object",
            properties: { dimension: { type: "string", pattern: "^[A-Za-z0-9_.-]{1,64}$" } },
            required: ["dimension"],
          },
          querystring: scopedQuery,
          security,
        },
      },
      async (request) =>
        monitor.getUsageBy(request.params.dimension, { ...rangeOf(request.query), userId: scopedUser(request, request.query.userId) }),
    );

    app.get<{ Querystring: Scoped & { threadId?: string; granularity?: Granularity } }>(
      "/trend",
      {
        schema: {
          tags: ["breakdowns"],
          summary: "Cost and tokens per day, week or month",
          querystring: querySchema({ ...rangeProperties, ...userFilterProperty, ...granularityProperty, threadId: idString }),
          security,
        },
      },
      async (request) => {
        const { threadId, granularity } = request.query;
        return monitor.getCostTrend({ ...rangeOf(request.query), userId: scopedUser(request, request.query.userId), threadId, granularity });
      },
    );

    app.get<{ Querystring: Scoped & { limit?: number } }>(
      "/top-threads",
      {
        schema: {
          tags: ["breakdowns"],
          summary: "The costliest threads",
          querystring: querySchema({ ...rangeProperties, ...userFilterProperty, ...limitProperty }),
          security,
        },
      },
      async (request) =>
        monitor.getTopThreads({ ...rangeOf(request.query), userId: scopedUser(request, request.query.userId), limit: request.query.limit }),
    );

    app.get<{ Querystring: RangeQuery & { limit?: number } }>(
      "/top-users",
      {
        schema: {
          tags: ["admin"],
          summary: "The costliest users (admin key only)",
          querystring: querySchema({ ...rangeProperties, ...limitProperty }),
          security,
        },
      },
      async (request) => {
        requireAdmin(request);
        return monitor.getTopUsers({ ...rangeOf(request.query), limit: request.query.limit });
      },
    );

    app.get<{ Querystring: RangeQuery }>(
      "/report",
      { schema: { tags: ["admin"], summary: "Overall totals with the main breakdowns (admin key only)", querystring: querySchema(rangeProperties), security } },
      async (request) => {
        requireAdmin(request);
        return monitor.getComprehensiveReport(rangeOf(request.query));
      },
    );

    app.get<{ Querystring: Scoped }>(
      "/recommendations",
      { schema: { tags: ["breakdowns"], summary: "Cost-saving suggestions", querystring: scopedQuery, security } },
      async (request) => {
        const options = { ...rangeOf(request.query), userId: scopedUser(request, request.query.userId) };
        if (typeof monitor.getRecommendations !== "function") {
          throw new HttpError(501, "NotImplemented", "recommendations are not available in this version of the monitor");
        }
        return monitor.getRecommendations(options);
      },
    );
  };
}
