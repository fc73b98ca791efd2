/** Per-user, per-thread and overall statistics, and the raw record list and CSV export. */
import type { FastifyInstance } from "fastify";
import { scopedUser, describePrincipal } from "../auth/authenticate.js";
import { csvExportStream } from "../csv/export-stream.js";
import { notFound } from "../http-errors.js";
import { idString, limitProperty, querySchema, rangeOf, rangeProperties, security, userFilterProperty } from "../schemas.js";
import type { RangeQuery, ServerMonitor } from "../types.js";

interface RecordFilters extends RangeQuery {
  userId?: string;
  threadId?: string;
  model?: string;
  agentName?: string;
  provider?: string;
}

const recordFilterProperties = {
  ...rangeProperties,
  ...userFilterProperty,
  threadId: idString,
  model: idString,
  agentName: idString,
  provider: idString,
};

export function usageRoutes(monitor: ServerMonitor) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get("/whoami", { schema: { tags: ["usage"], summary: "The caller's role and user", security } }, async (request) =>
      describePrincipal(request),
    );

    app.get<{ Params: { userId: string }; Querystring: RangeQuery }>(
      "/user/:userId",
      {
        schema: {
          tags: ["usage"],
          summary: "A user's usage statistics",
          params: { type: "object", properties: { userId: idString }, required: ["userId"] },
          querystring: querySchema(rangeProperties),
          security,
        },
      },
      async (request) => monitor.getUserUsage(scopedUser(request, request.params.userId)!, rangeOf(request.query)),
    );

    app.get<{ Params: { threadId: string }; Querystring: RangeQuery & { userId?: string } }>(
      "/thread/:threadId",
      {
        schema: {
          tags: ["usage"],
          summary: "A thread's usage (its whole life unless a range is given)",
          params: { type: "object", properties: { threadId: idString }, required: ["threadId"] },
          querystring: querySchema({ ...rangeProperties, ...userFilterProperty }),
          security,
        },
      },
      async (request) => {
        const userId = scopedUser(request, request.query.userId);
        const stats = await monitor.getThreadUsage(request.params.threadId, { ...rangeOf(request.query), userId });
        // A thread with no records visible to this caller does not exist for it:
        // a user key gets the same answer for another user's thread as for none.
        if (stats.totalRequests === 0) throw notFound("thread");
        return stats;
      },
    );

    app.get<{ Querystring: RangeQuery & { userId?: string } }>(
      "/summary",
      {
        schema: {
          tags: ["usage"],
          summary: "Totals, cost by model and agent, and the daily trend",
          querystring: querySchema({ ...rangeProperties, ...userFilterProperty }),
          security,
        },
      },
      async (request) => monitor.getOverallUsage({ ...rangeOf(request.query), userId: scopedUser(request, request.query.userId) }),
    );

    app.get<{ Querystring: RecordFilters & { limit?: number; cursor?: string } }>(
      "/all",
      {
        schema: {
          tags: ["records"],
          summary: "Raw records, newest first, with cursor paging",
          querystring: querySchema({
            ...recordFilterProperties,
            ...limitProperty,
            cursor: { type: "string", minLength: 1, maxLength: 4096, description: "The `cursor` of the previous page." },
          }),
          security,
        },
      },
      async (request) => {
        const { limit, cursor, ...filters } = request.query;
        return monitor.getAllUsage({ ...filters, userId: scopedUser(request, filters.userId), limit, cursor });
      },
    );

    app.get<{ Querystring: RecordFilters }>(
      "/export.csv",
      {
        schema: {
          tags: ["records"],
          summary: "Every matching record as CSV, streamed",
          querystring: querySchema(recordFilterProperties),
          produces: ["text/csv"],
          security,
        },
      },
      async (request, reply) => {
        const stream = await csvExportStream(monitor, { ...request.query, userId: scopedUser(request, request.query.userId) });
        return reply
          .type("text/csv; charset=utf-8")
          .header("content-disposition", 'attachment; filename="token-usage.csv"')
          .send(stream);
      },
    );
  };
}
