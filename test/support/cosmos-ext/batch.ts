/**
 * `POST .../docs` with `x-ms-cosmos-is-batch-request`: transactional batches
 * (`x-ms-cosmos-batch-atomic: true`, from `items.batch`) and bulk requests (atomic false,
 * from `items.bulk` / `executeBulkOperations`).
 *
 * A transactional batch, as Azure Cosmos DB documents it ("Transactional batch
 * operations"): at most 100 operations, all in the batch's logical partition, run in order;
 * if one fails, none stays applied, the answer is 207 Multi-Status, the failing operation
 * carries its own status (409, 404, 412, 400...) and every other operation 424 Failed
 * Dependency. Create, Upsert, Replace, Read and Delete run through the package's own point
 * operations (with `ifMatch`); Patch through patch.ts. The package runs the operations in
 * order but keeps those before a failure and answers 200, and refuses Patch.
 *
 * A bulk request runs each operation on its own (after a failure the rest are 424 only
 * without continue-on-error) and gains Patch; it answers 207 when an operation failed, as
 * the SDK's bulk response parsing expects (`items.bulk` reads only the per-operation
 * statuses; the package answered 200).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { patchDocument } from "./patch.js";
import { beginTransaction, partitionKeyPath } from "./state.js";
import {
  parsePartitionKey,
  pointOperations,
  readJsonBody,
  type Doc,
  type OpResult,
  type RouteParams,
  type StockAccount,
  type StockCollection,
} from "./stock.js";

export const MAX_BATCH_OPERATIONS = 100;
const OPERATION_TYPES = new Set(["Create", "Upsert", "Read", "Delete", "Replace", "Patch"]);

interface BatchOperation {
  operationType: string;
  id?: string;
  partitionKey?: string;
  ifMatch?: string;
  resourceBody?: unknown;
}

export interface BatchOperationResult {
  statusCode: number;
  requestCharge: number;
  eTag?: string;
  resourceBody?: unknown;
  message?: string;
}

const truthy = (v: string | string[] | undefined) => [v].flat().some((h) => String(h).toLowerCase() === "true");

export async function handleBatch(
  account: StockAccount,
  req: IncomingMessage,
  res: ServerResponse,
  params: RouteParams,
  countOperations: (n: number) => void = () => {},
) {
  const body = await readJsonBody(req).catch(() => undefined);
  if (Array.isArray(body)) countOperations(body.length);
  const collection = account.database(params.dbId!).collection(params.collId!);
  if (!collection.read()) {
    res.statusCode = 404;
    return { code: "NotFound", message: `Container ${params.collId} does not exist.` };
  }
  const invalid = checkRequest(body);
  if (invalid) {
    res.statusCode = 400;
    return { code: "BadRequest", message: invalid };
  }
  const operations = body as BatchOperation[];
  const header = [req.headers["x-ms-documentdb-partitionkey"]].flat()[0];
  if (!truthy(req.headers["x-ms-cosmos-batch-atomic"])) {
    const results = runBulk(collection, operations, truthy(req.headers["x-ms-cosmos-batch-continue-on-error"]));
    res.statusCode = results.some((r) => r.statusCode >= 400) ? 207 : 200;
    return results;
  }
  const { statusCode, results } = runTransaction(collection, operations, header);
  res.statusCode = statusCode;
  return results;
}

function checkRequest(body: unknown): string | undefined {
  if (!Array.isArray(body)) return "A batch request body must be a JSON array of operations.";
  if (body.length === 0) return "A batch needs at least one operation.";
  if (body.length > MAX_BATCH_OPERATIONS) {
    return `A batch carries at most ${MAX_BATCH_OPERATIONS} operations; got ${body.length}.`;
  }
  const unknown = body.find((op) => !op || !OPERATION_TYPES.has((op as BatchOperation).operationType));
  if (unknown !== undefined) return `Operation type ${JSON.stringify(unknown?.operationType)} is not supported in a batch.`;
  return undefined;
}

function runTransaction(collection: StockCollection, operations: BatchOperation[], batchPartitionKey: string | undefined) {
  const transaction = beginTransaction(collection);
  const results: BatchOperationResult[] = [];
  for (let i = 0; i < operations.length; i++) {
    let result: OpResult;
    try {
      result = wrongPartition(collection, operations[i], batchPartitionKey) ?? runOne(collection, operations[i], batchPartitionKey);
    } catch (err) {
      result = { statusCode: 500, body: { code: "InternalServerError", message: (err as Error).message } };
    }
    if (result.statusCode >= 400) {
      transaction.rollback();
      const failed = toResult(result);
      return {
        statusCode: 207,
        results: operations.map((_, j) => (j === i ? failed : { statusCode: 424, requestCharge: 0 })),
      };
    }
    results.push(toResult(result));
  }
  transaction.commit();
  return { statusCode: 200, results };
}

function runBulk(collection: StockCollection, operations: BatchOperation[], continueOnError: boolean): BatchOperationResult[] {
  let failed = false;
  return operations.map((op) => {
    if (failed && !continueOnError) return { statusCode: 424, requestCharge: 0 };
    const result = toResult(runOne(collection, op, op.partitionKey));
    failed = result.statusCode >= 400;
    return result;
  });
}

function runOne(collection: StockCollection, op: BatchOperation, batchPartitionKey: string | undefined): OpResult {
  const partitionKey = op.partitionKey ?? batchPartitionKey;
  if (op.operationType === "Patch") {
    return patchDocument(collection, { id: op.id as string, partitionKey, ifMatch: op.ifMatch, body: op.resourceBody });
  }
  const run = pointOperations[op.operationType as keyof typeof pointOperations];
  return run(collection, { id: op.id, partitionKey: partitionKey ?? "[{}]", ifMatch: op.ifMatch, resourceBody: op.resourceBody as Doc });
}

/**
 * A 400 for an operation outside the batch's logical partition: a document body whose
 * partition key value differs, or an operation naming another partition key.
 */
function wrongPartition(collection: StockCollection, op: BatchOperation, batchPartitionKey: string | undefined): OpResult | undefined {
  if (batchPartitionKey === undefined) return undefined;
  const expected = JSON.stringify(parsePartitionKey(batchPartitionKey, "\u0000none"));
  const named = op.partitionKey === undefined ? undefined : JSON.stringify(parsePartitionKey(op.partitionKey, "\u0000none"));
  const body = op.resourceBody as Doc | undefined;
  const own = op.operationType !== "Patch" && body && typeof body === "object" ? JSON.stringify(valueAt(body, partitionKeyPath(collection))) : undefined;
  if ((named !== undefined && named !== expected) || (own !== undefined && own !== expected)) {
    return {
      statusCode: 400,
      body: { code: "BadRequest", message: `The operation's partition key does not match the batch's partition key ${batchPartitionKey}.` },
    };
  }
  return undefined;
}

function valueAt(doc: Doc, path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), doc);
}

function toResult(result: OpResult): BatchOperationResult {
  const body = result.body as (Doc & { message?: string }) | undefined;
  if (result.statusCode >= 400) return { statusCode: result.statusCode, requestCharge: 0, message: body?.message ?? "" };
  return { statusCode: result.statusCode, requestCharge: 1, eTag: body?._etag, resourceBody: body };
}
