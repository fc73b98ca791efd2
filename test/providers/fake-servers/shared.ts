/**
 * Plumbing shared by the fake provider servers: a node:http server on 127.0.0.1 with a
 * random port, a request counter, JSON body parsing and SSE helpers.
 *
 * Each provider module describes only its wire format; this file owns the socket.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The truth a fake server reports, in inclusive form. Each server translates it into its
 * provider's native shape (e.g. Anthropic's exclusive `input_tokens`), so a test can
 * assert that extraction gives back exactly these numbers.
 */
export interface FakeUsage {
  /** Prompt tokens, inclusive of cache reads and writes. */
  input: number;
  /** Completion tokens, inclusive of reasoning. */
  output: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number;
  /** A total to report instead of the true one (a provider contradicting itself). */
  reportedTotal?: number;
}

export const DEFAULT_USAGE: FakeUsage = {
  input: 120,
  output: 45,
  cacheRead: 0,
  cacheWrite: 0,
  reasoning: 0,
};

export function withDefaults(usage?: Partial<FakeUsage>): FakeUsage {
  return { ...DEFAULT_USAGE, ...usage };
}

/** One request as the fake server saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

export interface FakeServer {
  /** Base URL, e.g. `http://127.0.0.1:43123` (no trailing slash). */
  url: string;
  port: number;
  /** Number of requests received so far. */
  readonly requests: number;
  /** Every request received, in order (body parsed as JSON when possible). */
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

export type Route = (req: SeenRequest, res: ServerResponse) => void | Promise<void>;

async function readBody(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Starts a server whose every request goes through `route`; unknown paths get a 404 from the route. */
export async function startServer(route: Route): Promise<FakeServer> {
  const seen: SeenRequest[] = [];
  const server = createServer(async (req, res) => {
    try {
      const parsed = new URL(req.url ?? "/", "http://127.0.0.1");
      const request: SeenRequest = {
        method: req.method ?? "GET",
        path: parsed.pathname,
        query: Object.fromEntries(parsed.searchParams),
        headers: req.headers,
        body: await readBody(req),
      };
      seen.push(request);
      await route(request, res);
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(err) } });
      else res.end();
    }
  });
  // Keep-alive sockets would make close() wait for the clients' idle timeout.
  server.keepAliveTimeout = 1;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get requests() {
      return seen.length;
    },
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Writes server-sent events; `event` is omitted when null (OpenAI chat and Gemini send bare `data:` lines). */
export function sendSse(res: ServerResponse, events: Array<{ event?: string; data: unknown }>): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (const { event, data } of events) {
    const payload = typeof data === "string" ? data : JSON.stringify(data);
    res.write(`${event ? `event: ${event}\n` : ""}data: ${payload}\n\n`);
  }
  res.end();
}

/** Splits a reply into a few streaming pieces (word boundaries kept). */
export function splitText(text: string, parts = 3): string[] {
  const words = text.split(/(?<= )/);
  const size = Math.max(1, Math.ceil(words.length / parts));
  const out: string[] = [];
  for (let i = 0; i < words.length; i += size) out.push(words.slice(i, i + size).join(""));
  return out.length ? out : [""];
}

/** Text of the last user message in an OpenAI-style or Anthropic-style message list. */
export function lastUserText(messages: any[] | undefined): string {
  if (!Array.isArray(messages)) return "";
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== "user") continue;
    if (typeof m.content === "string") return m.content;
    if (Array.isArray(m.content)) return m.content.map((c: any) => c?.text ?? "").join("");
  }
  return "";
}
