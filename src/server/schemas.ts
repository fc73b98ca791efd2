/**
 * Query-string schemas shared by the routes. Fastify validates (and coerces) with
 * them and @fastify/swagger turns them into the OpenAPI document; the query layer
 * still checks meaning (a real time zone, start before end) and names the field.
 */
import type { RangeQuery } from "./types.js";

export const idString = { type: "string", minLength: 1, maxLength: 1024 } as const;

/** ISO 8601 date or date-time; checked here because `Date.parse` accepts almost anything. */
const ISO_DATE = "^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2})?)?$";

export const rangeProperties = {
  days: { type: "number", exclusiveMinimum: 0, maximum: 3660, description: "The last N days up to `end` (default 30) when `start` is absent." },
  start: { type: "string", maxLength: 64, pattern: ISO_DATE, description: "ISO 8601 start (inclusive)." },
  end: { type: "string", maxLength: 64, pattern: ISO_DATE, description: "ISO 8601 end (exclusive), default now." },
  timeZone: { type: "string", minLength: 1, maxLength: 64, description: "IANA zone for day buckets, default UTC." },
} as const;

export const userFilterProperty = {
  userId: { ...idString, description: "Admin only: restrict to one user. A user key is always restricted to its own user." },
} as const;

export const limitProperty = { limit: { type: "integer", minimum: 1, maximum: 1000 } } as const;

export const granularityProperty = { granularity: { type: "string", enum: ["day", "week", "month"] } } as const;

export function querySchema(properties: Record<string, unknown>): Record<string, unknown> {
  return { type: "object", properties, additionalProperties: false };
}

export const errorResponse = {
  type: "object",
  properties: { error: { type: "string" }, message: { type: "string" }, code: { type: "string" }, field: { type: "string" } },
} as const;

/** Picks the range options out of a validated query. */
export function rangeOf(query: RangeQuery): RangeQuery {
  const out: RangeQuery = {};
  if (query.days !== undefined) out.days = query.days;
  if (query.start !== undefined) out.start = query.start;
  if (query.end !== undefined) out.end = query.end;
  if (query.timeZone !== undefined) out.timeZone = query.timeZone;
  return out;
}

export const security: Array<Record<string, string[]>> = [{ apiKey: [] }, { bearer: [] }];
