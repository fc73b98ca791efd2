/** Argument checks of the Cosmos store: bad input gets a ValidationError naming the field. */
import { ValidationError } from "../../errors.js";
import type { UsageRecord } from "../../record/types.js";
import { isReservedUserId } from "./global/layout.js";
import type { AggregateQuery, CostUpdate, RecordFilter } from "../types.js";

const VALID_GROUP = /^(user|thread|provider|model|agent|operation|hour|day|dimension:.+)$/;

export function validateRecord(r: UsageRecord, i: number): void {
  if (!r || typeof r !== "object") throw new ValidationError(`records[${i}]`, "must be a usage record");
  if (typeof r.id !== "string" || !r.id) throw new ValidationError(`records[${i}].id`, "must be a non-empty string");
  if (typeof r.userId !== "string" || !r.userId) {
    throw new ValidationError(`records[${i}].userId`, "must be a non-empty string");
  }
  // The store keeps settings and the global views in partitions named this way.
  if (isReservedUserId(r.userId)) {
    throw new ValidationError(`records[${i}].userId`, `"${r.userId}" is reserved by the Cosmos DB store (ids of the form __name__)`);
  }
  if (typeof r.timestamp !== "string" || Number.isNaN(Date.parse(r.timestamp)) || r.timestamp.length < 20) {
    throw new ValidationError(`records[${i}].timestamp`, "must be an ISO 8601 UTC timestamp");
  }
}

export function validateFilter(f: RecordFilter): void {
  if (!f || typeof f !== "object") throw new ValidationError("filter", "must be an object");
  for (const k of ["userId", "threadId", "provider", "model", "agentName", "start", "end"] as const) {
    if (f[k] !== undefined && typeof f[k] !== "string") throw new ValidationError(k, "must be a string");
  }
}

export function validateAggregateQuery(query: AggregateQuery): void {
  validateFilter(query?.filter ?? {});
  if (!Array.isArray(query?.groupBy)) throw new ValidationError("groupBy", "must be an array of group keys");
  query.groupBy.forEach((k, i) => {
    if (!VALID_GROUP.test(String(k))) throw new ValidationError(`groupBy[${i}]`, `unknown group key "${String(k)}"`);
  });
}

export function validateCostUpdate(u: CostUpdate, i: number): void {
  if (typeof u.id !== "string" || !u.id) throw new ValidationError(`updates[${i}].id`, "must be a non-empty string");
  if (typeof u.userId !== "string" || !u.userId) {
    throw new ValidationError(`updates[${i}].userId`, "must be a non-empty string");
  }
  for (const f of ["inputCostNanos", "outputCostNanos", "totalCostNanos"] as const) {
    if (!Number.isSafeInteger(u[f])) throw new ValidationError(`updates[${i}].${f}`, "must be an integer (nano-dollars)");
  }
}

export function validateSettingKey(namespace: string, key: string): void {
  if (typeof namespace !== "string" || !namespace) throw new ValidationError("namespace", "must be a non-empty string");
  if (typeof key !== "string" || !key) throw new ValidationError("key", "must be a non-empty string");
}
