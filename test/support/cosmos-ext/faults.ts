/**
 * Fault injection and an operation counter for the extended local server.
 *
 * `faults.failNext("batch", 2, { status: 429, retryAfterMs: 20 })` makes the next two
 * transactional batches answer a whole-request 429 with `x-ms-retry-after-ms` (nothing
 * applied), as the service does when a partition is out of throughput; `status: 503` is
 * the service being unavailable. `afterApplying: true` runs the request first and then
 * answers the error: the write happened, the answer was lost (a replay must find it);
 * `dropConnection: true` closes the socket instead of answering (the client sees a reset).
 * Note that the SDK retries 429s by itself (up to `retryOptions.maxRetryAttemptCount`)
 * before `items.batch` throws.
 *
 * `ops` counts the requests the server received by kind, and the operations inside
 * batch and bulk requests, so a test can check what a store call costs.
 */
import type { IncomingMessage } from "node:http";

export type RequestKind =
  | "batch"
  | "bulk"
  | "patch"
  | "create"
  | "upsert"
  | "replace"
  | "read"
  | "delete"
  | "query"
  | "readFeed"
  | "changeFeed"
  | "metadata";

export const REQUEST_KINDS: readonly RequestKind[] = [
  "batch", "bulk", "patch", "create", "upsert", "replace", "read", "delete", "query", "readFeed", "changeFeed", "metadata",
];

export interface FaultSpec {
  /** HTTP status of the whole answer, e.g. 429, 503, 408, 500. */
  status: number;
  /** `x-ms-retry-after-ms` on the answer. @default 10 for a 429, none otherwise */
  retryAfterMs?: number;
  /** `x-ms-substatus` on the answer. @default 3200 for a 429 (request rate too large) */
  subStatus?: number;
  /** The answer's message, e.g. the service's text for a query it refuses. @default "Injected fault: <status>." */
  message?: string;
  /** Apply the request, then answer the error instead of its result. @default false */
  afterApplying?: boolean;
  /** Close the connection instead of answering (with `afterApplying`: the write happened, the client sees a reset). @default false */
  dropConnection?: boolean;
}

interface PendingFault extends FaultSpec {
  kind: RequestKind | "any";
  remaining: number;
}

export class CosmosFaults {
  private pending: PendingFault[] = [];

  /** The next `count` requests of `kind` ("any" for every kind) answer `spec` instead. */
  failNext(kind: RequestKind | "any", count: number, spec: FaultSpec): void {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`failNext: count must be a positive integer, got ${count}`);
    this.pending.push({ ...spec, kind, remaining: count });
  }

  /** Drops every pending fault. */
  clear(): void {
    this.pending = [];
  }

  /** Faults still to be answered. */
  get remaining(): number {
    return this.pending.reduce((n, f) => n + f.remaining, 0);
  }

  /** The fault for this request, if one is pending (used by the server). */
  take(kind: RequestKind): FaultSpec | undefined {
    const fault = this.pending.find((f) => f.kind === kind || f.kind === "any");
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.pending.splice(this.pending.indexOf(fault), 1);
    return fault;
  }
}

/** The headers and body of a fault answer. */
export function faultAnswer(spec: FaultSpec): { headers: Record<string, string>; body: { code: string; message: string } } {
  const headers: Record<string, string> = { "x-ms-request-charge": "0" };
  const retryAfterMs = spec.retryAfterMs ?? (spec.status === 429 ? 10 : undefined);
  const subStatus = spec.subStatus ?? (spec.status === 429 ? 3200 : undefined);
  if (retryAfterMs !== undefined) headers["x-ms-retry-after-ms"] = String(retryAfterMs);
  if (subStatus !== undefined) headers["x-ms-substatus"] = String(subStatus);
  const code = spec.status === 429 ? "TooManyRequests" : spec.status === 503 ? "ServiceUnavailable" : `Status${spec.status}`;
  const message = spec.message ?? `Injected fault: ${spec.status}${spec.afterApplying ? " after applying the request" : ""}.`;
  return { headers, body: { code, message } };
}

export class OperationCounter {
  readonly counts = Object.fromEntries(REQUEST_KINDS.map((k) => [k, 0])) as Record<RequestKind, number>;
  /** Operations carried inside batch and bulk requests. */
  batchOperations = 0;
  /** Requests answered with an injected fault. */
  faulted = 0;

  get total(): number {
    return REQUEST_KINDS.reduce((n, k) => n + this.counts[k], 0);
  }

  reset(): void {
    for (const k of REQUEST_KINDS) this.counts[k] = 0;
    this.batchOperations = 0;
    this.faulted = 0;
  }
}

const isTrue = (v: string | string[] | undefined) => [v].flat().some((h) => String(h).toLowerCase() === "true");

/** What a request is, from its method, path and headers (as the SDK sends them). */
export function classify(req: IncomingMessage): RequestKind {
  const path = (req.url ?? "/").split("?")[0].replace(/\/+$/, "");
  const onDocs = /\/colls\/[^/]+\/docs$/.test(path);
  const onDoc = /\/colls\/[^/]+\/docs\/[^/]+$/.test(path);
  const h = req.headers;
  if (req.method === "POST" && onDocs) {
    if (isTrue(h["x-ms-cosmos-is-batch-request"])) return isTrue(h["x-ms-cosmos-batch-atomic"]) ? "batch" : "bulk";
    if (isTrue(h["x-ms-documentdb-isquery"]) || h["content-type"] === "application/query+json") return "query";
    return isTrue(h["x-ms-documentdb-is-upsert"]) ? "upsert" : "create";
  }
  if (req.method === "GET" && onDocs) return h["a-im"] !== undefined ? "changeFeed" : "readFeed";
  if (onDoc) {
    if (req.method === "GET") return "read";
    if (req.method === "PUT") return "replace";
    if (req.method === "PATCH") return "patch";
    if (req.method === "DELETE") return "delete";
  }
  return "metadata";
}
