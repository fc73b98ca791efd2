/**
 * A small HTTP proxy in front of the local Cosmos server that misbehaves on demand:
 * answers 429 with `x-ms-retry-after-ms` or 503, drops the connection before forwarding
 * (the write never happened) or after (the write happened, the answer is lost).
 * It also records what passed through, so tests can read the query text sent.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export type ProxyAction = "forward" | "throttle" | "unavailable" | "reset-before" | "reset-after";

export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface ThrottleProxy {
  endpoint: string;
  seen: SeenRequest[];
  counts: Record<ProxyAction, number>;
  /** Decides what happens to each request; the default forwards everything. */
  decide: (req: SeenRequest, index: number) => ProxyAction;
  close(): Promise<void>;
}

/** True for the SDK's bulk (batch) request: a POST of an array of operations to a container's docs. */
export function isBulkRequest(req: SeenRequest): boolean {
  return req.method === "POST" && String(req.headers["x-ms-cosmos-is-batch-request"]).toLowerCase() === "true";
}

export function isQueryRequest(req: SeenRequest): boolean {
  return req.method === "POST" && String(req.headers["x-ms-documentdb-isquery"]).toLowerCase() === "true";
}

export async function startThrottleProxy(target: string, retryAfterMs = 5): Promise<ThrottleProxy> {
  const targetUrl = new URL(target);
  const proxy: ThrottleProxy = {
    endpoint: "",
    seen: [],
    counts: { forward: 0, throttle: 0, unavailable: 0, "reset-before": 0, "reset-after": 0 },
    decide: () => "forward",
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const seen: SeenRequest = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, body: body.toString("utf8") };
      const index = proxy.seen.push(seen) - 1;
      const action = proxy.decide(seen, index);
      proxy.counts[action]++;
      if (action === "throttle") {
        res.writeHead(429, {
          "content-type": "application/json",
          "x-ms-retry-after-ms": String(retryAfterMs),
          "x-ms-request-charge": "0",
        });
        res.end(JSON.stringify({ code: "TooManyRequests", message: "Request rate is large (proxy)" }));
        return;
      }
      if (action === "unavailable") {
        res.writeHead(503, { "content-type": "application/json", "x-ms-request-charge": "0" });
        res.end(JSON.stringify({ code: "ServiceUnavailable", message: "Service is currently unavailable (proxy)" }));
        return;
      }
      if (action === "reset-before") {
        req.socket.destroy();
        return;
      }
      const upstream = http.request(
        {
          host: targetUrl.hostname,
          port: targetUrl.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: targetUrl.host },
        },
        (up) => {
          const upChunks: Buffer[] = [];
          up.on("data", (c: Buffer) => upChunks.push(c));
          up.on("end", () => {
            if (action === "reset-after") {
              req.socket.destroy();
              return;
            }
            const headers = { ...up.headers };
            delete headers["content-length"];
            delete headers["transfer-encoding"];
            delete headers.connection;
            res.writeHead(up.statusCode ?? 502, headers);
            res.end(Buffer.concat(upChunks));
          });
        },
      );
      upstream.on("error", () => req.socket.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
