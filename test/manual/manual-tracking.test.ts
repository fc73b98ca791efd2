/**
 * Tracking outside the callback handler: raw SDK responses through withTokenTracking,
 * embeddings through trackEmbeddings (the real OpenAIEmbeddings client against a fake
 * /embeddings endpoint), and trackUsage validation.
 */
import { OpenAIEmbeddings } from "@langchain/openai";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenMonitor, trackEmbeddings, withTokenTracking, type TokenMonitoringService } from "../../src/index.js";

let monitor: TokenMonitoringService;
beforeAll(() => {
  monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", budget: false, logger: { warn: () => undefined, error: () => undefined } });
});
afterAll(() => monitor.close());

const recordsOf = async (userId: string) => (await monitor.getAllUsage({ userId, days: 1, end: new Date(Date.now() + 60_000) })).records;

describe("withTokenTracking", () => {
  it("records raw OpenAI, Anthropic and Gemini responses with inclusive counts", async () => {
    const openai = withTokenTracking(
      async () => ({ model: "gpt-4o-2024-08-06", usage: { prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1024 }, completion_tokens_details: { reasoning_tokens: 0 } } }),
      { provider: "openai", userId: "raw", monitor },
    );
    const anthropic = withTokenTracking(
      async () => ({ model: "claude-sonnet-4-20250514", usage: { input_tokens: 100, output_tokens: 50, cache_read_input_tokens: 2000, cache_creation_input_tokens: 500 } }),
      { provider: "anthropic", userId: "raw", monitor },
    );
    const gemini = withTokenTracking(
      async () => ({ modelVersion: "gemini-2.5-flash", usageMetadata: { promptTokenCount: 800, candidatesTokenCount: 40, thoughtsTokenCount: 60, totalTokenCount: 900 } }),
      { provider: "google_genai", userId: "raw", monitor },
    );
    await openai();
    await anthropic();
    await gemini();
    await monitor.flush();
    const byModel = Object.fromEntries((await recordsOf("raw")).map((r) => [r.model, r]));
    expect(byModel["gpt-4o-2024-08-06"]).toMatchObject({ inputTokens: 1200, outputTokens: 300, cacheReadTokens: 1024, priced: true });
    // Anthropic's input_tokens excludes the cache: the record's input is inclusive.
    expect(byModel["claude-sonnet-4-20250514"]).toMatchObject({ inputTokens: 2600, outputTokens: 50, cacheReadTokens: 2000, cacheWriteTokens: 500 });
    expect(byModel["gemini-2.5-flash"]).toMatchObject({ inputTokens: 800, outputTokens: 100, reasoningTokens: 60 });
  });

  it("records a failed call and rethrows the original error", async () => {
    const failing = withTokenTracking(async () => {
      throw new Error("429 rate limited");
    }, { provider: "openai", model: "gpt-4o", userId: "raw-fail", monitor });
    await expect(failing()).rejects.toThrow("429 rate limited");
    await monitor.flush();
    expect(await recordsOf("raw-fail")).toMatchObject([{ error: true, errorMessage: "429 rate limited", model: "gpt-4o", inputTokens: 0 }]);
  });
});

describe("trackEmbeddings", () => {
  let server: ReturnType<typeof createServer>;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c)).on("end", () => {
        const input = ([] as string[]).concat(JSON.parse(body).input);
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            object: "list",
            model: "text-embedding-3-small",
            data: input.map((_, index) => ({ object: "embedding", index, embedding: [0.1, 0.2, 0.3] })),
            // The provider's own count: 7 tokens per text.
            usage: { prompt_tokens: 7 * input.length, total_tokens: 7 * input.length },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("records the provider's embedding usage from the real OpenAIEmbeddings client", async () => {
    const embeddings = trackEmbeddings(
      new OpenAIEmbeddings({ model: "text-embedding-3-small", apiKey: "test", configuration: { baseURL: url }, maxRetries: 0 }),
      { monitor, userId: "emb", agentName: "indexer" },
    );
    const vectors = await embeddings.embedDocuments(["alpha", "beta", "gamma"]);
    expect(vectors).toHaveLength(3);
    await embeddings.embedQuery("delta");
    await monitor.flush();
    const records = await recordsOf("emb");
    expect(records.map((r) => r.inputTokens).sort()).toEqual([21, 7]);
    expect(records.every((r) => r.operationType === "embedding" && r.provider === "openai" && r.priced && !r.estimated && r.agentName === "indexer")).toBe(true);
    // text-embedding-3-small: $0.02 per 1M tokens = 20 nano-dollars per token.
    expect(records.reduce((n, r) => n + r.totalCostNanos, 0)).toBe(28 * 20);
  });
});

describe("trackUsage validation", () => {
  it.each([
    [{ inputTokens: -1 }, "inputTokens"],
    [{ inputTokens: Number.NaN }, "inputTokens"],
    [{ outputTokens: 1.5 }, "outputTokens"],
    [{ outputTokens: 2 ** 53 }, "outputTokens"],
    [{ model: "" }, "model"],
    [{ provider: "  " }, "provider"],
    [{ cacheReadTokens: 5000 }, "cacheReadTokens"],
    [{ timestamp: "yesterday" }, "timestamp"],
    [{ operation: "image" }, "operation"],
  ])("rejects %o naming %s", async (bad, field) => {
    const input = { userId: "v", provider: "openai", model: "gpt-4o", inputTokens: 100, outputTokens: 10, ...bad };
    await expect(monitor.trackUsage(input as never)).rejects.toMatchObject({ code: "ERR_VALIDATION", field });
  });
});
