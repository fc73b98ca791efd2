/**
 * Fake Amazon Bedrock Runtime server: `POST /model/{modelId}/converse` (JSON) and
 * `POST /model/{modelId}/converse-stream` (binary AWS event stream,
 * `application/vnd.amazon.eventstream`, with real prelude and message CRC32s).
 *
 * Reports usage the way Bedrock does: `inputTokens` EXCLUDES `cacheReadInputTokens` and
 * `cacheWriteInputTokens`; `totalTokens` is everything. Reasoning is not reported separately.
 * Bedrock does not echo the model in the response; `modelIds` records the ids addressed.
 *
 * Point `ChatBedrockConverse` at it with a `client: new BedrockRuntimeClient({ endpoint: server.url,
 * region, credentials })` (the `endpointHost` option forces https).
 */
import type { ServerResponse } from "node:http";
import { crc32 } from "node:zlib";
import { type FakeServer, type FakeUsage, sendJson, splitText, startServer, withDefaults } from "./shared.js";

export interface FakeBedrockOptions {
  usage?: Partial<FakeUsage> | ((callIndex: number) => Partial<FakeUsage>);
  /** @default "Hello from the fake Bedrock server." */
  reply?: string;
}

export interface FakeBedrockServer extends FakeServer {
  readonly modelIds: string[];
}

export function toBedrockUsage(u: FakeUsage) {
  return {
    inputTokens: u.input - u.cacheRead - u.cacheWrite,
    outputTokens: u.output,
    totalTokens: u.reportedTotal ?? u.input + u.output,
    cacheReadInputTokens: u.cacheRead,
    cacheWriteInputTokens: u.cacheWrite,
  };
}

function header(name: string, value: string): Buffer {
  const n = Buffer.from(name, "utf8");
  const v = Buffer.from(value, "utf8");
  const out = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
  let o = out.writeUInt8(n.length, 0);
  o += n.copy(out, o);
  o = out.writeUInt8(7, o); // 7 = string value
  o = out.writeUInt16BE(v.length, o);
  v.copy(out, o);
  return out;
}

/** One AWS event-stream message: prelude (lengths + CRC), headers, JSON payload, message CRC. */
export function encodeEventStreamMessage(eventType: string, payload: unknown): Buffer {
  const headers = Buffer.concat([
    header(":event-type", eventType),
    header(":content-type", "application/json"),
    header(":message-type", "event"),
  ]);
  const body = Buffer.from(JSON.stringify(payload), "utf8");
  const total = 12 + headers.length + body.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headers.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const withoutCrc = Buffer.concat([prelude, headers, body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(withoutCrc), 0);
  return Buffer.concat([withoutCrc, crc]);
}

function sendEventStream(res: ServerResponse, events: Array<[string, unknown]>): void {
  res.writeHead(200, { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "req-fake" });
  for (const [type, payload] of events) res.write(encodeEventStreamMessage(type, payload));
  res.end();
}

export async function startFakeBedrockConverseServer(options: FakeBedrockOptions = {}): Promise<FakeBedrockServer> {
  let calls = 0;
  const modelIds: string[] = [];
  const server = await startServer((req, res) => {
    const match = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(req.path);
    if (req.method !== "POST" || !match) return sendJson(res, 404, { message: `no route for ${req.path}` });
    const callIndex = calls++;
    modelIds.push(decodeURIComponent(match[1]));
    const usage = withDefaults(typeof options.usage === "function" ? options.usage(callIndex) : options.usage);
    const reply = options.reply ?? "Hello from the fake Bedrock server.";
    if (match[2] === "converse") {
      res.setHeader("x-amzn-requestid", `req-fake-${callIndex}`);
      return sendJson(res, 200, {
        output: { message: { role: "assistant", content: [{ text: reply }] } },
        stopReason: "end_turn",
        usage: toBedrockUsage(usage),
        metrics: { latencyMs: 42 },
      });
    }
    sendEventStream(res, [
      ["messageStart", { role: "assistant" }],
      ...splitText(reply).map((text): [string, unknown] => ["contentBlockDelta", { contentBlockIndex: 0, delta: { text } }]),
      ["contentBlockStop", { contentBlockIndex: 0 }],
      ["messageStop", { stopReason: "end_turn" }],
      ["metadata", { usage: toBedrockUsage(usage), metrics: { latencyMs: 42 } }],
    ]);
  });
  return Object.assign(server, { modelIds });
}
