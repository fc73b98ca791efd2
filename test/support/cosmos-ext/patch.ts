/**
 * Patch of one document, standalone (`item.patch`) or inside a batch: the operations of
 * patch-operations.ts, an optional `ifMatch` etag and an optional filter predicate
 * (`FROM c WHERE ...`) evaluated against the stored document. The package lower-cases the
 * whole predicate before running it, so `c.userId` never matches; here the predicate runs
 * verbatim through the package's own query engine. A false predicate or a stale etag is
 * 412, a missing document 404, a bad patch 400. The write goes through the package's
 * `replace`, which gives the document a new `_etag` and `_ts`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { applyPatchOperations, PatchError, validatePatch } from "./patch-operations.js";
import { partitionKeyPath } from "./state.js";
import { parsePartitionKey, readJsonBody, type Doc, type OpResult, type RouteParams, type StockAccount, type StockCollection } from "./stock.js";

export interface PatchInput {
  id: string;
  /** The partition key as the request carries it (a JSON array string). */
  partitionKey: string | undefined;
  ifMatch?: string;
  /** `[...operations]` or `{ operations, condition }`, as the SDK sends either. */
  body: unknown;
}

const preconditionFailed = (message: string): OpResult => ({ statusCode: 412, body: { code: "PreconditionFailed", message } });

export function patchDocument(collection: StockCollection, input: PatchInput): OpResult {
  const { operations, condition } = splitBody(input.body);
  let ops;
  try {
    ops = validatePatch(operations, partitionKeyPath(collection));
  } catch (err) {
    return errorResult(err);
  }
  const partition = parsePartitionKey(input.partitionKey ?? "[{}]", input.id);
  const current = collection.document(input.id, partition).read();
  if (!current) return { statusCode: 404, body: { code: "NotFound", message: `Document ${input.id} does not exist.` } };
  if (input.ifMatch && input.ifMatch !== current._etag) {
    return preconditionFailed("Operation cannot be performed because one of the specified precondition is not met.");
  }
  try {
    if (condition !== undefined && !conditionHolds(collection, current, condition)) {
      return preconditionFailed("Condition specified in the patch request is not satisfied.");
    }
    const patched = applyPatchOperations(current, ops);
    return { statusCode: 200, body: collection.documents.replace(patched, current) };
  } catch (err) {
    return errorResult(err);
  }
}

/** The request handler for `PATCH /dbs/{db}/colls/{coll}/docs/{id}`. */
export async function handlePatch(account: StockAccount, req: IncomingMessage, res: ServerResponse, params: RouteParams) {
  const collection = account.database(params.dbId!).collection(params.collId!);
  let body: unknown;
  try {
    body = await readJsonBody(req);
  } catch {
    res.statusCode = 400;
    return { code: "BadRequest", message: "The patch body is not JSON." };
  }
  if (!collection.read()) {
    res.statusCode = 404;
    return { code: "NotFound", message: `Container ${params.collId} does not exist.` };
  }
  const header = req.headers["x-ms-documentdb-partitionkey"];
  const result = patchDocument(collection, {
    id: params.docId!,
    partitionKey: Array.isArray(header) ? header[0] : header,
    ifMatch: req.headers["if-match"],
    body,
  });
  res.statusCode = result.statusCode;
  return result.body ?? {};
}

/**
 * Runs the predicate against this one document. `FROM c WHERE ...` (what the SDK sends),
 * `WHERE ...` and a full `SELECT` are accepted; anything else is a 400.
 */
function conditionHolds(collection: StockCollection, doc: Doc, condition: unknown): boolean {
  if (typeof condition !== "string") throw new PatchError(400, "The patch condition must be a string.");
  const text = condition.trim();
  let sql: string;
  if (/^select\s/i.test(text)) sql = text;
  else if (/^from\s/i.test(text)) sql = `SELECT * ${text}`;
  else if (/^where\s/i.test(text)) sql = `SELECT * FROM c ${text}`;
  else throw new PatchError(400, `The patch condition must start with FROM or WHERE: ${JSON.stringify(condition)}.`);
  try {
    return collection.documents._getQuery(sql).exec([doc], { parameters: [] }).result.length > 0;
  } catch (err) {
    throw new PatchError(400, `The patch condition is not valid: ${(err as Error).message}`);
  }
}

function splitBody(body: unknown): { operations: unknown; condition?: unknown } {
  if (Array.isArray(body)) return { operations: body };
  if (body && typeof body === "object") {
    const { operations, condition } = body as { operations?: unknown; condition?: unknown };
    return { operations, condition: condition ?? undefined };
  }
  return { operations: undefined };
}

function errorResult(err: unknown): OpResult {
  if (err instanceof PatchError) return { statusCode: err.statusCode, body: { code: "BadRequest", message: err.message } };
  const e = err as Error & { badRequest?: boolean; conflict?: boolean };
  if (e.conflict) return { statusCode: 409, body: { code: "Conflict", message: e.message } };
  if (e.badRequest) return { statusCode: 400, body: { code: "BadRequest", message: e.message } };
  throw err;
}
