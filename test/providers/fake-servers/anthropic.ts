/**
 * Fake Anthropic Messages API server (`POST {url}/v1/messages`).
 *
 * Reports usage the way Anthropic does: `input_tokens` EXCLUDES cache reads and writes, which come
 * as `cache_read_input_tokens` and `cache_creation_input_tokens`; thinking tokens are not reported
 * separately (they are inside `output_tokens`), so `usage.reasoning` is ignored here.
 *
 * Streaming follows the real event order: `message_start` (whose usage carries the input side and
 * a small provisional `output_tokens`, `startOutputTokens`, default 1) -> content block events ->
 * `message_delta` with the final CUMULATIVE `output_tokens` -> `message_stop`.
 *
 * Point `ChatAnthropic` at it with `anthropicApiUrl: server.url` (or `clientOptions.baseURL`).
 */
import { type FakeServer, type FakeUsage, sendJson, sendSse, splitText, startServer, withDefaults } from "./shared.js";

export interface FakeAnthropicOptions {
  /** @default "claude-sonnet-4-5-20250929" */
  model?: string;
  usage?: Partial<FakeUsage> | ((callIndex: number) => Partial<FakeUsage>);
  /** Provisional output_tokens in message_start (real API: usually 1). @default 1 */
  startOutputTokens?: number;
  /** @default "Hello from the fake Anthropic server." */
  reply?: string;
}

export function toAnthropicUsage(u: FakeUsage) {
  return {
    input_tokens: u.input - u.cacheRead - u.cacheWrite,
    cache_creation_input_tokens: u.cacheWrite,
    cache_read_input_tokens: u.cacheRead,
    output_tokens: u.output,
    service_tier: "standard",
  };
}

export async function startFakeAnthropicServer(options: FakeAnthropicOptions = {}): Promise<FakeServer> {
  let calls = 0;
  return startServer((req, res) => {
    if (req.method !== "POST" || !req.path.endsWith("/v1/messages")) {
      return sendJson(res, 404, { type: "error", error: { type: "not_found_error", message: req.path } });
    }
    const callIndex = calls++;
    const model = options.model ?? "claude-sonnet-4-5-20250929";
    const usage = withDefaults(typeof options.usage === "function" ? options.usage(callIndex) : options.usage);
    const reply = options.reply ?? "Hello from the fake Anthropic server.";
    const id = `msg_fake_${callIndex}`;
    const native = toAnthropicUsage(usage);
    if (!req.body?.stream) {
      return sendJson(res, 200, {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [{ type: "text", text: reply }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: native,
      });
    }
    const start = options.startOutputTokens ?? 1;
    sendSse(res, [
      {
        event: "message_start",
        data: {
          type: "message_start",
          message: {
            id,
            type: "message",
            role: "assistant",
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { ...native, output_tokens: start },
          },
        },
      },
      { event: "content_block_start", data: { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } } },
      { event: "ping", data: { type: "ping" } },
      ...splitText(reply).map((text) => ({
        event: "content_block_delta",
        data: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } },
      })),
      { event: "content_block_stop", data: { type: "content_block_stop", index: 0 } },
      {
        event: "message_delta",
        data: {
          type: "message_delta",
          delta: { stop_reason: "end_turn", stop_sequence: null },
          usage: { output_tokens: usage.output },
        },
      },
      { event: "message_stop", data: { type: "message_stop" } },
    ]);
  });
}
