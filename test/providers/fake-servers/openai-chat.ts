/**
 * Fake OpenAI Chat Completions server (`POST {url}/chat/completions`, and any path ending in
 * `/chat/completions`, so the Azure fake reuses it).
 *
 * - Non-streaming: a `chat.completion` JSON with `usage.prompt_tokens_details.cached_tokens`
 *   and `usage.completion_tokens_details.reasoning_tokens`.
 * - Streaming (`stream: true`): `chat.completion.chunk` SSE events per choice, then, when the
 *   request asks `stream_options.include_usage`, one last chunk with `choices: []` and the usage
 *   (as OpenAI does), then `data: [DONE]`.
 * - `n > 1`: that many choices; the usage (for the whole request) is reported once.
 * - Tool calls: when the request carries `tools` and no `tool` message follows the last user
 *   message, the reply is a call to the first tool (or `toolCall.name`) with `toolCall.args`;
 *   once a tool result is present, the reply is a final answer quoting it. That is enough for an
 *   agent loop: call 1 -> tool call, call 2 -> answer.
 *
 * Point `ChatOpenAI` at it with `configuration: { baseURL: server.url }`.
 */
import type { ServerResponse } from "node:http";
import {
  type FakeServer,
  type FakeUsage,
  type SeenRequest,
  sendJson,
  sendSse,
  splitText,
  startServer,
  withDefaults,
} from "./shared.js";

export interface FakeOpenAIChatOptions {
  /** Model name the server reports back (real OpenAI reports a dated snapshot). @default "gpt-4o-mini-2024-07-18" */
  model?: string;
  /** Usage to report; a function gets the 0-based index of the chat request. */
  usage?: Partial<FakeUsage> | ((callIndex: number) => Partial<FakeUsage>);
  /** Text of a final answer. @default "Hello from the fake OpenAI server." */
  reply?: string;
  /** Tool call to make when tools are offered and no tool result is present yet. */
  toolCall?: { name?: string; args?: Record<string, unknown> };
}

export interface OpenAIUsageJson {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** `cache_write_tokens` only when the call wrote to the cache, as OpenAI reports it. */
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number; cache_write_tokens?: number };
  completion_tokens_details: { reasoning_tokens: number; audio_tokens: number };
}

export function toOpenAIUsage(u: FakeUsage): OpenAIUsageJson {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.reportedTotal ?? u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cacheRead, audio_tokens: 0, ...(u.cacheWrite > 0 ? { cache_write_tokens: u.cacheWrite } : {}) },
    completion_tokens_details: { reasoning_tokens: u.reasoning, audio_tokens: 0 },
  };
}

function wantsToolCall(body: any): boolean {
  if (!Array.isArray(body?.tools) || body.tools.length === 0) return false;
  const messages: any[] = Array.isArray(body.messages) ? body.messages : [];
  const lastUser = messages.map((m) => m?.role).lastIndexOf("user");
  return !messages.slice(lastUser + 1).some((m) => m?.role === "tool");
}

function lastToolResult(body: any): string | null {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === "tool") {
      const c = messages[i].content;
      return typeof c === "string" ? c : JSON.stringify(c);
    }
  }
  return null;
}

/** Handles one chat completions request; exported so the Azure fake can reuse it. */
export function createOpenAIChatRoute(options: FakeOpenAIChatOptions = {}) {
  let calls = 0;
  return (req: SeenRequest, res: ServerResponse): void => {
    const callIndex = calls++;
    const body = req.body ?? {};
    const model = options.model ?? "gpt-4o-mini-2024-07-18";
    const usage = withDefaults(typeof options.usage === "function" ? options.usage(callIndex) : options.usage);
    const n = Number.isInteger(body.n) && body.n > 0 ? body.n : 1;
    const id = `chatcmpl-fake-${callIndex}`;
    const created = 1_700_000_000 + callIndex;
    const toolResult = lastToolResult(body);
    const reply =
      toolResult !== null
        ? `The tool answered: ${toolResult}`
        : (options.reply ?? "Hello from the fake OpenAI server.");
    const toolCall = wantsToolCall(body)
      ? {
          id: `call_fake_${callIndex}`,
          type: "function",
          function: {
            name: options.toolCall?.name ?? body.tools[0]?.function?.name ?? "tool",
            arguments: JSON.stringify(options.toolCall?.args ?? {}),
          },
        }
      : null;

    if (!body.stream) {
      sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        system_fingerprint: "fp_fake",
        service_tier: "default",
        choices: Array.from({ length: n }, (_, index) => ({
          index,
          message: toolCall
            ? { role: "assistant", content: null, tool_calls: [toolCall], refusal: null }
            : { role: "assistant", content: n > 1 ? `${reply} (#${index})` : reply, refusal: null },
          logprobs: null,
          finish_reason: toolCall ? "tool_calls" : "stop",
        })),
        usage: toOpenAIUsage(usage),
      });
      return;
    }

    const base = { id, object: "chat.completion.chunk", created, model, system_fingerprint: "fp_fake" };
    const events: Array<{ data: unknown }> = [];
    for (let index = 0; index < n; index++) {
      events.push({ data: { ...base, choices: [{ index, delta: { role: "assistant", content: "" }, finish_reason: null }] } });
      if (toolCall) {
        events.push({
          data: {
            ...base,
            choices: [{ index, delta: { tool_calls: [{ index: 0, ...toolCall }] }, finish_reason: null }],
          },
        });
      } else {
        for (const piece of splitText(n > 1 ? `${reply} (#${index})` : reply)) {
          events.push({ data: { ...base, choices: [{ index, delta: { content: piece }, finish_reason: null }] } });
        }
      }
      events.push({ data: { ...base, choices: [{ index, delta: {}, finish_reason: toolCall ? "tool_calls" : "stop" }] } });
    }
    if (body.stream_options?.include_usage) events.push({ data: { ...base, choices: [], usage: toOpenAIUsage(usage) } });
    events.push({ data: "[DONE]" });
    sendSse(res, events);
  };
}

export async function startFakeOpenAIChatServer(options: FakeOpenAIChatOptions = {}): Promise<FakeServer> {
  const route = createOpenAIChatRoute(options);
  return startServer((req, res) => {
    if (req.method === "POST" && req.path.endsWith("/chat/completions")) return route(req, res);
    sendJson(res, 404, { error: { message: `no route for ${req.method} ${req.path}` } });
  });
}
