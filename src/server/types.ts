/**
 * What the server needs from its collaborators, typed locally so the server does
 * not depend on how the monitor or the budget guard are built.
 */
import type { UsageQueries } from "../query/usage-queries.js";

/** Options every range-aware endpoint forwards to the query layer. */
export interface RangeQuery {
  days?: number;
  start?: string;
  end?: string;
  timeZone?: string;
}

/**
 * The monitor as the server sees it: the query methods plus `store` (for API keys).
 * `getRecommendations` is optional so the server works with monitors built before it.
 */
export type ServerMonitor = UsageQueries & {
  getRecommendations?: (options: RangeQuery & { userId?: string }) => Promise<unknown>;
};

/**
 * The budget guard's management surface (the guard itself lives in `src/budget/`).
 * `setLimit` takes the body of `PUT /budgets/:limitId` with `id` set from the path;
 * its parameter is loosely typed because the guard owns and validates the limit shape.
 */
export interface BudgetApi {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  setLimit(limit: any): unknown;
  removeLimit(limitId: string): unknown;
  listLimits(): unknown;
  /** Without a user: the shared (global) limits only. */
  getBudgetStatus(userId?: string): unknown;
}

/** Who is calling: the admin key sees everything, a user key only its own user. */
export type Principal = { kind: "admin" } | { kind: "user"; userId: string; keyId: string };
