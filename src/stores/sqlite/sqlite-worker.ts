/**
 * The worker side of `SqliteWorkerStore`: owns a `SqliteUsageStore` on its own thread
 * and answers the main thread's calls, so SQLite's synchronous work (a batch
 * transaction, a busy wait on another process's lock) never holds the agent's event loop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { SqliteUsageStore, type SqliteUsageStoreOptions } from "./sqlite-usage-store.js";

export interface WorkerRequest {
  id: number;
  method: string;
  args: unknown[];
}

export interface WorkerResponse {
  id: number;
  result?: unknown;
  error?: { name: string; code?: string; field?: string; location?: string; message: string };
}

if (parentPort) {
  const port = parentPort;
  // Opens nothing yet: an unusable file fails the calls (the writer retries them), not the worker.
  const store = new SqliteUsageStore(workerData as SqliteUsageStoreOptions);
  port.on("message", async (request: WorkerRequest) => {
    let response: WorkerResponse;
    try {
      const method = (store as unknown as Record<string, (...a: unknown[]) => unknown>)[request.method];
      if (typeof method !== "function") throw new Error(`unknown store method ${request.method}`);
      response = { id: request.id, result: await method.apply(store, request.args) };
    } catch (error) {
      const e = error as Error & { code?: string; field?: string; location?: string };
      response = { id: request.id, error: { name: e.name, code: e.code, field: e.field, location: e.location, message: e.message } };
    }
    port.postMessage(response);
    if (request.method === "close") port.close();
  });
}
