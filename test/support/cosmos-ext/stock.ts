/**
 * Typed access to the pieces of `@vercel/cosmosdb-server` 1.0.1 the extension builds on:
 * its in-memory account, its router and handlers, its point operations. The package has
 * no `exports` map, so its `lib/` modules are reachable by path; they are CommonJS with
 * `exports.default`, loaded through `createRequire` so tsx and vitest see the same objects.
 * Only the members used here are typed.
 */
import { createRequire } from "node:module";
import type { IncomingMessage, ServerResponse } from "node:http";

const require = createRequire(import.meta.url);
const lib = (path: string) => require(`@vercel/cosmosdb-server/lib/${path}`);

export type Doc = Record<string, unknown> & { id: string; _etag?: string; _rid?: string; _ts?: number };

export interface StockQuery {
  exec(data: Doc[], options: { parameters?: unknown[]; udf?: unknown }): { result: unknown[] };
}

/** `Items` of the package: documents keyed by `_rid`, with an index from `partition:/path:value` to `_rid`. */
export interface StockItems {
  _data: Map<string, { read(): Doc }>;
  _index: Map<string, string>;
  _ridCount: number;
  _set(data: Doc): Doc;
  _getQuery(sql: string): StockQuery;
  _getPartition(data: Doc): unknown;
  _getPartitionKeyPath(): string[];
  replace(data: Doc, original: Doc): Doc;
}

export interface StockCollection {
  read(): (Doc & { partitionKey?: { paths?: string[] } }) | undefined;
  documents: StockItems;
  document(id: string, partition: unknown): { read(): Doc | undefined };
}

export interface StockAccount {
  database(id: string): { collection(id: string): StockCollection };
}

export type RouteParams = { dbId?: string; collId?: string; docId?: string };
export type StockHandler = (account: StockAccount, req: IncomingMessage, res: ServerResponse, params: RouteParams) => unknown;

/** What the package's point operations answer: a status and, on success, the stored document. */
export interface OpResult {
  statusCode: number;
  body?: Doc | { code?: string; message?: string };
}

export interface PointOperationInput {
  id?: string;
  partitionKey?: string;
  ifMatch?: string;
  resourceBody?: Doc;
}

type PointOperation = (collection: StockCollection, input: PointOperationInput) => OpResult;

export const StockAccountClass: new (host: string, port: number) => StockAccount = lib("account").default;
export const stockRoute: (req: IncomingMessage) => [RouteParams, StockHandler] | undefined = lib("routes").default;
export const stockHandlers = {
  batch: lib("handler/batch-documents").default as StockHandler,
  patch: lib("handler/patch-document").default as StockHandler,
  readDocuments: lib("handler/read-documents").default as StockHandler,
};
export const pointOperations: Record<"Create" | "Upsert" | "Read" | "Delete" | "Replace", PointOperation> = (() => {
  const ops = lib("handler/_document-operations");
  return {
    Create: ops.createOperation,
    Upsert: ops.upsertOperation,
    Read: ops.readOperation,
    Delete: ops.deleteOperation,
    Replace: ops.replaceOperation,
  };
})();

/**
 * The partition key value a request names (`x-ms-documentdb-partitionkey: ["u1"]`), as the
 * package's index stores it; `fallback` (the id) when the header carries none.
 */
export const parsePartitionKey: (header: string, fallback: string) => unknown = lib("utils/get-partition-from-header").parsePartitionKey;

/** Reads a JSON request body the way the package's handlers do. */
export const readJsonBody: (req: IncomingMessage) => Promise<unknown> = lib("json").default;
