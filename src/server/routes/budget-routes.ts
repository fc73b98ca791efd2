/**
 * Budget limits and a user's budget status, answered by the budget guard when one
 * was given to `buildApp` (501 otherwise). Managing limits needs the admin key.
 */
import type { FastifyInstance } from "fastify";
import { BUDGET_LIMIT_FIELDS } from "../../budget/limits.js";
import { requireAdmin, scopedUser } from "../auth/authenticate.js";
import { HttpError, notFound } from "../http-errors.js";
import { idString, security } from "../schemas.js";
import type { BudgetApi } from "../types.js";

const limitIdParams = {
  type: "object",
  properties: { limitId: { type: "string", pattern: "^[A-Za-z0-9_.:*@+-]{1,200}$" } },
  required: ["limitId"],
} as const;

export function budgetRoutes(budget: BudgetApi | undefined) {
  const guard = (): BudgetApi => {
    if (!budget) throw new HttpError(501, "NotImplemented", "budgets are not configured on this server");
    return budget;
  };
  return async function register(app: FastifyInstance): Promise<void> {
    app.get("/budgets", { schema: { tags: ["budgets"], summary: "Every budget limit (admin key only)", security } }, async (request) => {
      requireAdmin(request);
      return { limits: await guard().listLimits() };
    });

    app.put<{ Params: { limitId: string }; Body: Record<string, unknown> }>(
      "/budgets/:limitId",
      {
        schema: {
          tags: ["budgets"],
          summary: "Creates or replaces a budget limit (admin key only)",
          params: limitIdParams,
          // Field names only: the budget guard checks what each field means and names it.
          body: { type: "object", properties: Object.fromEntries(BUDGET_LIMIT_FIELDS.map((f) => [f, {}])), additionalProperties: false },
          security,
        },
      },
      async (request) => {
        requireAdmin(request);
        const limit = await guard().setLimit({ ...request.body, id: request.params.limitId });
        return { limit: limit ?? { ...request.body, id: request.params.limitId } };
      },
    );

    app.delete<{ Params: { limitId: string } }>(
      "/budgets/:limitId",
      { schema: { tags: ["budgets"], summary: "Removes a budget limit (admin key only)", params: limitIdParams, security } },
      async (request) => {
        requireAdmin(request);
        const removed = await guard().removeLimit(request.params.limitId);
        if (removed === false) throw notFound("budget limit");
        return { removed: true, id: request.params.limitId };
      },
    );

    app.get(
      "/budgets/status",
      { schema: { tags: ["budgets"], summary: "Usage against the shared limits that name no user (admin key only)", security } },
      async (request) => {
        requireAdmin(request);
        return guard().getBudgetStatus();
      },
    );

    app.get<{ Params: { userId: string } }>(
      "/budgets/status/:userId",
      {
        schema: {
          tags: ["budgets"],
          summary: "A user's usage against every limit that applies to them",
          params: { type: "object", properties: { userId: idString }, required: ["userId"] },
          security,
        },
      },
      async (request) => guard().getBudgetStatus(scopedUser(request, request.params.userId)!),
    );
  };
}
