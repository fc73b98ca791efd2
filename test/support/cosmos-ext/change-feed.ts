/**
 * The change feed in latest-version mode (`GET .../docs` with `A-IM: Incremental feed`),
 * what `items.getChangeFeedIterator` reads: the latest version of every document written
 * after the position asked for, in the order of the container's logical sequence number
 * (`_lsn`, one per write; see state.ts), at most `x-ms-max-item-count` per page. Deletes
 * do not appear (latest-version mode).
 *
 * Position, as the SDK sends it: no `If-None-Match` = from the beginning (or from
 * `If-Modified-Since` when given); `If-None-Match: *` = from now; `If-None-Match: "<lsn>"`
 * = after that sequence number, the value this server answered as `etag`. The etag of a
 * page is the `_lsn` of its last document, so the SDK's continuation resumes right after
 * it; with nothing new the answer is 304 with the etag of the current position. The
 * package answers every document on the first read and 304 forever after.
 *
 * One partition key range covers the container, so a feed for the whole container and one
 * for a partition key (`x-ms-documentdb-partitionkey`) differ only by the filter.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { containerLog } from "./state.js";
import { parsePartitionKey, type Doc, type RouteParams, type StockAccount } from "./stock.js";

/** Page size when the request names none (the service's default page is 100 items). */
export const DEFAULT_PAGE_SIZE = 100;
const NO_PARTITION = Symbol("no partition");

export function isChangeFeedRequest(req: IncomingMessage): boolean {
  return req.method === "GET" && req.headers["a-im"] !== undefined;
}

export function handleChangeFeed(account: StockAccount, req: IncomingMessage, res: ServerResponse, params: RouteParams) {
  const collection = account.database(params.dbId!).collection(params.collId!);
  const container = collection.read();
  if (!container) {
    res.statusCode = 404;
    return { code: "NotFound", message: `Container ${params.collId} does not exist.` };
  }
  const log = containerLog(collection);
  const position = startPosition(req, log.lsn);
  if (typeof position === "string") {
    res.statusCode = 400;
    return { code: "BadRequest", message: position };
  }
  const partition = partitionFilter(req);
  const pageSize = maxItemCount(req);
  const changed: Array<{ lsn: number; doc: Doc }> = [];
  for (const item of collection.documents._data.values()) {
    const doc = item.read();
    const lsn = log.lsnOf.get(doc) ?? 0;
    if (lsn <= position.after) continue;
    if (position.since !== undefined && (doc._ts ?? 0) * 1000 < position.since) continue;
    if (partition !== NO_PARTITION && JSON.stringify(collection.documents._getPartition(doc)) !== JSON.stringify(partition)) continue;
    changed.push({ lsn, doc });
  }
  changed.sort((a, b) => a.lsn - b.lsn);
  const page = changed.slice(0, pageSize);
  // Nothing new: the position stays where it is (or moves to now), never back to the start.
  const etag = page.length > 0 ? page[page.length - 1].lsn : Math.max(position.after, log.lsn);
  res.setHeader("etag", `"${etag}"`);
  res.setHeader("x-ms-item-count", String(page.length));
  if (page.length === 0) {
    res.statusCode = 304;
    return {};
  }
  res.statusCode = 200;
  const documents = page.map(({ lsn, doc }) => ({ ...doc, _lsn: lsn }));
  return { _rid: container._rid, Documents: documents, _count: documents.length };
}

interface Position {
  /** Documents with a sequence number above this one. */
  after: number;
  /** Start time in ms (If-Modified-Since), when reading from a point in time. */
  since?: number;
}

function startPosition(req: IncomingMessage, currentLsn: number): Position | string {
  const ifNoneMatch = req.headers["if-none-match"];
  if (ifNoneMatch === "*") return { after: currentLsn };
  if (ifNoneMatch !== undefined && ifNoneMatch !== "") {
    const lsn = Number(String(ifNoneMatch).replace(/^W\//, "").replace(/"/g, ""));
    if (!Number.isInteger(lsn) || lsn < 0) return `Change feed continuation ${JSON.stringify(ifNoneMatch)} is not one this server gave out.`;
    return { after: lsn };
  }
  const ifModifiedSince = req.headers["if-modified-since"];
  if (ifModifiedSince) {
    const since = Date.parse(ifModifiedSince);
    if (Number.isNaN(since)) return `If-Modified-Since ${JSON.stringify(ifModifiedSince)} is not a date.`;
    return { after: 0, since };
  }
  return { after: 0 };
}

function partitionFilter(req: IncomingMessage): unknown {
  const header = [req.headers["x-ms-documentdb-partitionkey"]].flat()[0];
  if (header === undefined || header === "[{}]") return NO_PARTITION;
  return parsePartitionKey(header, undefined as unknown as string);
}

function maxItemCount(req: IncomingMessage): number {
  const n = Number(req.headers["x-ms-max-item-count"]);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_PAGE_SIZE;
}
