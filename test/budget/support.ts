/**
 * Test plumbing for budgets: a fake OpenAI chat completions server that counts
 * requests, a webhook receiver that can hang or fail, a SQLite-backed monitor with
 * its guard on a temp file, and a clock the test moves.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBudgetedMonitor, type BudgetAlert, type BudgetGuardOptions } from "../../src/budget/index.js";

export interface Listening {
  url: string;
  close(): Promise<void>;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, port = 0): Promise<Listening & { server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function body(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : undefined;
}

export interface FakeOpenAI extends Listening {
  /** Chat completion requests received. */
  readonly requests: number;
}

/** Replies to `POST /chat/completions` with fixed usage, after `delayMs`. */
export async function startFakeOpenAI(usage: { prompt: number; completion: number }, delayMs = 0): Promise<FakeOpenAI> {
  let requests = 0;
  const l = await listen(async (req, res) => {
    const payload = await body(req);
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404).end();
      return;
    }
    requests++;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${requests}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: payload?.model ?? "gpt-4o-mini",
        choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop", logprobs: null }],
        usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion },
      }),
    );
  });
  return {
    url: l.url,
    close: l.close,
    get requests() {
      return requests;
    },
  };
}

export interface FakeWebhook extends Listening {
  /** Every POST body received, including the ones it hung on or refused. */
  readonly attempts: any[];
  /** Bodies it answered 200 to. */
  readonly delivered: any[];
  /** `hang` never answers, `fail` answers 503, `ok` answers 200. */
  mode: "hang" | "fail" | "ok";
}

export async function startFakeWebhook(mode: FakeWebhook["mode"]): Promise<FakeWebhook> {
  const attempts: any[] = [];
  const delivered: any[] = [];
  const state = { mode };
  const l = await listen(async (req, res) => {
    const payload = await body(req);
    attempts.push(payload);
    if (state.mode === "hang") return; // the client's timeout has to give up
    if (state.mode === "fail") {
      res.writeHead(503).end();
      return;
    }
    delivered.push(payload);
    res.writeHead(200).end("{}");
  });
  return {
    url: `${l.url}/hook`,
    close: l.close,
    attempts,
    delivered,
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
  };
}

export class TestClock {
  constructor(private t: number) {}
  now = (): Date => new Date(this.t);
  set(iso: string): void {
    this.t = Date.parse(iso);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export function tempDbPath(): { path: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "budget-test-"));
  return { path: join(dir, "usage.db"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A SQLite monitor with its guard; alerts collected in `alerts`. */
export function budgeted(path: string, budget: Omit<BudgetGuardOptions, "monitor"> = {}) {
  const alerts: BudgetAlert[] = [];
  const { monitor, guard } = createBudgetedMonitor({
    store: "sqlite",
    sqlitePath: path,
    env: {},
    writer: { flushIntervalMs: 5 },
    logger: { warn: () => undefined, error: () => undefined },
    budget: {
      logger: { warn: () => undefined, error: () => undefined },
      onAlert: (a) => {
        alerts.push(a);
      },
      ...budget,
    },
  });
  return { monitor, guard, alerts };
}
