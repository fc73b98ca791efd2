/**
 * What the current `@langchain/openai` (1.6+) does differently, against the fake OpenAI
 * servers: gpt-5.x models go to the Responses API even with `useResponsesApi: false`,
 * and OpenAI's `cache_write_tokens` arrive as `input_token_details.cache_creation`, which
 * must be priced at the cache-write rate, not as plain input.
 */
import { HumanMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { afterAll, describe, expect, it } from "vitest";
import { attachTokenTracking, createTokenMonitor } from "../../src/index.js";
import { extractModel } from "../../src/handler/extract-model.js";
import { extractUsage } from "../../src/handler/extract-usage.js";
import { CaptureHandler } from "./capture-handler.js";
import "./clients.js"; // offline tiktoken for ChatOpenAI
import { createOpenAIChatRoute } from "./fake-servers/openai-chat.js";
import { createOpenAIResponsesRoute } from "./fake-servers/openai-responses.js";
import { type FakeServer, type FakeUsage, sendJson, startServer } from "./fake-servers/shared.js";

// 1.6 sends gpt-5.6 (and *-pro, codex) to the Responses API whatever useResponsesApi says.
const GPT5 = "gpt-5.6";
const GPT5_SNAPSHOT = "gpt-5.6-2026-03-05";
const TRUTH: FakeUsage = { input: 4000, output: 500, cacheRead: 2048, cacheWrite: 1024, reasoning: 192 };

/** One server answering both OpenAI APIs, so the test sees which one the client chose. */
function startBothApis(usage: FakeUsage, model: string): Promise<FakeServer> {
  const chat = createOpenAIChatRoute({ usage, model });
  const responses = createOpenAIResponsesRoute({ usage, model });
  return startServer((req, res) => {
    if (req.method === "POST" && req.path.endsWith("/responses")) return responses(req, res);
    if (req.method === "POST" && req.path.endsWith("/chat/completions")) return chat(req, res);
    sendJson(res, 404, { error: { message: `no route for ${req.method} ${req.path}` } });
  });
}

const gpt5 = (url: string, streaming = false) =>
  new ChatOpenAI({ model: GPT5, apiKey: "sk-fake", configuration: { baseURL: url }, maxRetries: 0, useResponsesApi: false, ...(streaming ? { streaming } : {}) });

describe("@langchain/openai 1.6+ against the fake OpenAI servers", () => {
  for (const mode of ["invoke", "stream"] as const) {
    it(`${GPT5} with useResponsesApi false (${mode}) goes to the Responses API; usage and model as reported`, async () => {
      const server = await startBothApis(TRUTH, GPT5_SNAPSHOT);
      try {
        const handler = new CaptureHandler();
        if (mode === "stream") {
          for await (const _chunk of await gpt5(server.url).stream([new HumanMessage("hi")], { callbacks: [handler] })) void _chunk;
        } else {
          await gpt5(server.url).invoke([new HumanMessage("hi")], { callbacks: [handler] });
        }
        expect(server.seen.map((r) => r.path)).toEqual(["/responses"]);
        expect(extractUsage(handler.ends[0].output)).toMatchObject({
          inputTokens: TRUTH.input,
          outputTokens: TRUTH.output,
          cacheReadTokens: TRUTH.cacheRead,
          cacheWriteTokens: TRUTH.cacheWrite,
          reasoningTokens: TRUTH.reasoning,
          estimated: false,
        });
        const start = handler.starts[0];
        const model = extractModel(handler.ends[0].output, {
          metadata: start.metadata,
          invocationParams: start.extraParams?.invocation_params as Record<string, unknown>,
          serialized: start.serialized,
          runName: start.runName,
        });
        expect(model).toEqual({ model: GPT5_SNAPSHOT, provider: "openai", deployment: null });
      } finally {
        await server.close();
      }
    });
  }

  // Rates in USD per 1M tokens, each distinct so a token priced at the wrong rate shows.
  const RATES = { input: 2, output: 16, cacheRead: 0.25, cacheWrite: 3 };
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", pricing: { models: { [GPT5]: RATES } }, env: {} });
  afterAll(() => monitor.close());

  for (const api of ["chat completions", "responses"] as const) {
    it(`OpenAI cache writes (${api}) are stored and priced at the cache-write rate`, async () => {
      const server = await startBothApis(TRUTH, GPT5_SNAPSHOT);
      const user = `cache-write-${api}`;
      try {
        // A model name the client keeps on Chat Completions; the fake answers as gpt-5.6.
        const model =
          api === "responses"
            ? gpt5(server.url)
            : new ChatOpenAI({ model: "gpt-4.1", apiKey: "sk-fake", configuration: { baseURL: server.url }, maxRetries: 0 });
        await model.invoke([new HumanMessage("hi")], attachTokenTracking({ configurable: { user_id: user } }, { monitor }));
        expect(server.seen[0].path).toBe(api === "responses" ? "/responses" : "/chat/completions");
      } finally {
        await server.close();
      }
      await monitor.flush();
      const { records } = await monitor.getAllUsage({ userId: user, days: 1, end: new Date(Date.now() + 60_000) });
      expect(records).toHaveLength(1);
      const r = records[0];
      expect(r).toMatchObject({ model: GPT5_SNAPSHOT, inputTokens: TRUTH.input, cacheReadTokens: TRUTH.cacheRead, cacheWriteTokens: TRUTH.cacheWrite, priced: true });
      const plain = TRUTH.input - TRUTH.cacheRead - TRUTH.cacheWrite;
      const expectedNanos = (plain * RATES.input + TRUTH.cacheRead * RATES.cacheRead + TRUTH.cacheWrite * RATES.cacheWrite) * 1000;
      expect(r.inputCostNanos).toBe(expectedNanos);
      expect(r.outputCostNanos).toBe(TRUTH.output * RATES.output * 1000);
    });
  }
});
