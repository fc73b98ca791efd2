/**
 * The extended local Cosmos DB server: an HTTP server over the in-memory account of
 * `@vercel/cosmosdb-server`, routed by the package's own router. Requests the package gets
 * wrong go to the extension first (transactional batch and bulk: batch.ts; patch:
 * patch.ts; change feed: change-feed.ts); everything else goes to the package's handler,
 * on the same account. The package's `createHttpServer` keeps its account private, so the
 * server is assembled here from the package's exported parts instead; the few response
 * headers its request wrapper adds are set here the same way.
 */
import http from "node:http";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { handleBatch } from "./batch.js";
import { handleChangeFeed, isChangeFeedRequest } from "./change-feed.js";
import { classify, CosmosFaults, faultAnswer, OperationCounter, type FaultSpec } from "./faults.js";
import { handlePatch } from "./patch.js";
import { containerLog } from "./state.js";
import { StockAccountClass, stockHandlers, stockRoute, type StockAccount, type StockHandler } from "./stock.js";

const QUERY_METRICS =
  "totalExecutionTimeInMs=0.00;queryCompileTimeInMs=0.00;queryLogicalPlanBuildTimeInMs=0.00;queryPhysicalPlanBuildTimeInMs=0.00;" +
  "queryOptimizationTimeInMs=0.00;VMExecutionTimeInMs=0.00;indexLookupTimeInMs=0.00;documentLoadTimeInMs=0.00;" +
  "systemFunctionExecuteTimeInMs=0.00;userFunctionExecuteTimeInMs=0.00;retrievedDocumentCount=0;retrievedDocumentSize=0;" +
  "outputDocumentCount=1;outputDocumentSize=0;writeOutputTimeInMs=0.00;indexUtilizationRatio=0.00";

/**
 * The server's clock, as its answers' `Date` header gives it (the service's time, which
 * the budget counters judge leases by). `set(at)` makes the server's time `at` now and
 * lets it run on from there; `offsetMs` is how far it is from the host's clock.
 */
export class ServerClock {
  offsetMs = 0;
  set(at: number): void {
    this.offsetMs = at - Date.now();
  }
  now(): number {
    return Date.now() + this.offsetMs;
  }
}

export interface ExtendedCosmosServer {
  endpoint: string;
  faults: CosmosFaults;
  ops: OperationCounter;
  clock: ServerClock;
  close(): Promise<void>;
}

export async function startExtendedServer(): Promise<ExtendedCosmosServer> {
  const faults = new CosmosFaults();
  const ops = new OperationCounter();
  const clock = new ServerClock();
  let account: StockAccount | undefined;
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    res.setHeader("date", new Date(clock.now()).toUTCString());
    serve(account!, req, res, faults, ops).catch((err) => {
      console.error(err);
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  account = new StockAccountClass("127.0.0.1", port);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    faults,
    ops,
    clock,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function serve(account: StockAccount, req: http.IncomingMessage, res: http.ServerResponse, faults: CosmosFaults, ops: OperationCounter) {
  const kind = classify(req);
  ops.counts[kind] += 1;
  const fault = faults.take(kind);
  if (fault && !fault.afterApplying) {
    req.resume();
    return answerFault(res, fault, ops);
  }
  const matched = stockRoute(req);
  let body: unknown;
  if (!matched) {
    res.statusCode = 400;
    body = { message: "no route" };
  } else {
    const [params, stock] = matched;
    if (params.collId) {
      const collection = account.database(params.dbId!).collection(params.collId);
      // Stamp every write of this container with a sequence number before any handler runs.
      if (collection.read()) containerLog(collection);
    }
    const handler = extensionFor(stock, req, (n) => (ops.batchOperations += n)) ?? stock;
    try {
      body = await handler(account, req, res, params);
    } catch (err) {
      console.error(err);
      res.statusCode = 500;
      body = { message: (err as Error).message };
    }
  }
  if (fault) return answerFault(res, fault, ops);
  writeAnswer(req, res, body);
}

function extensionFor(stock: StockHandler, req: http.IncomingMessage, countOperations: (n: number) => void): StockHandler | undefined {
  if (stock === stockHandlers.batch) return (a, rq, rs, p) => handleBatch(a, rq, rs, p, countOperations);
  if (stock === stockHandlers.patch) return handlePatch;
  if (stock === stockHandlers.readDocuments && isChangeFeedRequest(req)) return handleChangeFeed;
  return undefined;
}

/** The headers the SDK reads on every answer, as the package's request wrapper sets them. */
function writeAnswer(req: http.IncomingMessage, res: http.ServerResponse, body: unknown) {
  const payload = (body ?? {}) as Record<string, unknown>;
  if (res.statusCode > 399 && typeof payload.message !== "string") payload.message = "";
  if (typeof payload._etag === "string" && !res.hasHeader("etag")) res.setHeader("etag", payload._etag);
  res.setHeader("content-type", "application/json");
  res.setHeader("connection", "keep-alive");
  res.setHeader("x-ms-activity-id", randomUUID());
  if (!res.hasHeader("x-ms-request-charge")) res.setHeader("x-ms-request-charge", "1");
  if (req.headers["x-ms-documentdb-populatequerymetrics"]) res.setHeader("x-ms-documentdb-query-metrics", QUERY_METRICS);
  res.end(JSON.stringify(body ?? {}));
}

function answerFault(res: http.ServerResponse, fault: FaultSpec, ops: OperationCounter) {
  ops.faulted += 1;
  if (fault.dropConnection) {
    res.socket?.destroy();
    return;
  }
  const { headers, body } = faultAnswer(fault);
  const date = res.getHeader("date");
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.writeHead(fault.status, { ...headers, ...(date ? { date: String(date) } : {}), "content-type": "application/json", "x-ms-activity-id": randomUUID() });
  res.end(JSON.stringify(body));
}
