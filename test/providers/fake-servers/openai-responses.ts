/**
 * Fake OpenAI Responses API server (`POST {url}/responses`, and any path ending in `/responses`).
 *
 * - Non-streaming: a `response` object with `usage.input_tokens_details.cached_tokens` and
 *   `usage.output_tokens_details.reasoning_tokens` (plus a reasoning output item when reasoning > 0).
 * - Streaming: the real event sequence `response.created` -> `response.output_item.added` ->
 *   `response.content_part.added` -> `response.output_text.delta`* -> `...done` events ->
 *   `response.completed`, whose `response.usage` carries the usage (only there, as OpenAI does).
 *
 * Point `ChatOpenAI` with `useResponsesApi: true` at it with `configuration: { baseURL: server.url }`.
 */
import type { ServerResponse } from "node:http";
import { type FakeServer, type FakeUsage, type SeenRequest, sendJson, sendSse, splitText, startServer, withDefaults } from "./shared.js";

export interface FakeOpenAIResponsesOptions {
  /** @default "gpt-4o-mini-2024-07-18" */
  model?: string;
  usage?: Partial<FakeUsage> | ((callIndex: number) => Partial<FakeUsage>);
  /** @default "Hello from the fake Responses server." */
  reply?: string;
}

export function toResponsesUsage(u: FakeUsage) {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cacheRead, ...(u.cacheWrite > 0 ? { cache_write_tokens: u.cacheWrite } : {}) },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning },
    total_tokens: u.reportedTotal ?? u.input + u.output,
  };
}

export function createOpenAIResponsesRoute(options: FakeOpenAIResponsesOptions = {}) {
  let calls = 0;
  return (req: SeenRequest, res: ServerResponse): void => {
    const callIndex = calls++;
    const model = options.model ?? "gpt-4o-mini-2024-07-18";
    const usage = withDefaults(typeof options.usage === "function" ? options.usage(callIndex) : options.usage);
    const reply = options.reply ?? "Hello from the fake Responses server.";
    const id = `resp_fake_${callIndex}`;
    const msgId = `msg_fake_${callIndex}`;
    const textPart = { type: "output_text", text: reply, annotations: [] as unknown[] };
    const message = { type: "message", id: msgId, status: "completed", role: "assistant", content: [textPart] };
    const reasoningItem = usage.reasoning > 0 ? [{ type: "reasoning", id: `rs_fake_${callIndex}`, summary: [] }] : [];
    const response = {
      id,
      object: "response",
      created_at: 1_700_000_000 + callIndex,
      status: "completed",
      error: null,
      incomplete_details: null,
      model,
      output: [...reasoningItem, message],
      parallel_tool_calls: true,
      tool_choice: "auto",
      tools: [] as unknown[],
      text: { format: { type: "text" } },
      usage: toResponsesUsage(usage),
    };

    if (!req.body?.stream) {
      sendJson(res, 200, response);
      return;
    }
    let seq = 0;
    const ev = (type: string, data: Record<string, unknown>) => ({ event: type, data: { type, sequence_number: seq++, ...data } });
    const outputIndex = reasoningItem.length;
    const events = [
      ev("response.created", { response: { ...response, status: "in_progress", output: [], usage: null } }),
      ev("response.in_progress", { response: { ...response, status: "in_progress", output: [], usage: null } }),
      ...reasoningItem.flatMap((item, i) => [
        ev("response.output_item.added", { output_index: i, item }),
        ev("response.output_item.done", { output_index: i, item }),
      ]),
      ev("response.output_item.added", { output_index: outputIndex, item: { ...message, status: "in_progress", content: [] } }),
      ev("response.content_part.added", { item_id: msgId, output_index: outputIndex, content_index: 0, part: { ...textPart, text: "" } }),
      ...splitText(reply).map((delta) =>
        ev("response.output_text.delta", { item_id: msgId, output_index: outputIndex, content_index: 0, delta }),
      ),
      ev("response.output_text.done", { item_id: msgId, output_index: outputIndex, content_index: 0, text: reply }),
      ev("response.content_part.done", { item_id: msgId, output_index: outputIndex, content_index: 0, part: textPart }),
      ev("response.output_item.done", { output_index: outputIndex, item: message }),
      ev("response.completed", { response }),
    ];
    sendSse(res, events);
  };
}

export async function startFakeOpenAIResponsesServer(options: FakeOpenAIResponsesOptions = {}): Promise<FakeServer> {
  const route = createOpenAIResponsesRoute(options);
  return startServer((req, res) => {
    if (req.method === "POST" && req.path.endsWith("/responses")) return route(req, res);
    sendJson(res, 404, { error: { message: `no route for ${req.method} ${req.path}` } });
  });
}
