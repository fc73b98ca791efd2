/**
 * Every real client x (invoke, `streaming: true` invoke, `.stream()`) against its fake server:
 * what a callback handler receives must yield exactly the usage the server reported (inclusive
 * input/output, cache read/write, reasoning) and the model the provider named.
 */
import { InMemoryCache } from "@langchain/core/caches";
import { HumanMessage, ToolMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { AzureChatOpenAI, ChatOpenAI } from "@langchain/openai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { extractModel } from "../../src/handler/extract-model.js";
import { type StreamObservation, extractUsage, isLangChainCacheHit, observeStreamChunk } from "../../src/handler/extract-usage.js";
import { CaptureHandler } from "./capture-handler.js";
import { AZURE_DEPLOYMENT, BEDROCK_MODEL_ID, type ClientKind, makeClient } from "./clients.js";
import { startFakeAzureServer, startFakeOpenAIChatServer } from "./fake-servers/index.js";
import { type ScenarioResult, SCENARIOS, runScenario } from "./scenarios.js";

const EXPECTED_MODEL: Record<ClientKind, { model: string; provider: string; deployment: string | null }> = {
  "openai-chat": { model: "gpt-4o-mini-2024-07-18", provider: "openai", deployment: null },
  "openai-responses": { model: "gpt-4o-mini-2024-07-18", provider: "openai", deployment: null },
  azure: { model: "gpt-4o-2024-11-20", provider: "azure", deployment: AZURE_DEPLOYMENT },
  anthropic: { model: "claude-sonnet-4-5-20250929", provider: "anthropic", deployment: null },
  // Neither the Gemini nor the Bedrock client keeps a model name from the response.
  gemini: { model: "gemini-2.5-flash", provider: "google_genai", deployment: null },
  "bedrock-converse": { model: BEDROCK_MODEL_ID, provider: "amazon_bedrock", deployment: null },
};

function observe(result: ScenarioResult): StreamObservation | undefined {
  return result.tokens.reduce<StreamObservation | undefined>((obs, t) => observeStreamChunk(obs, t.fields), undefined);
}

describe("provider matrix: real clients against fake servers", () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: usage and model exactly as the server reported`, async () => {
      const result = await runScenario(scenario);
      expect(result.requests).toBe(1);
      expect(result.handler.errors).toEqual([]);
      expect(result.end).toBeDefined();
      // As the handler does: the run's ls_provider decides whether a thinking gap is output.
      const usage = extractUsage(result.end!.output, observe(result), result.start?.metadata?.ls_provider);
      const t = scenario.usage;
      expect(usage).toMatchObject({
        inputTokens: t.input,
        outputTokens: t.output,
        totalTokens: t.input + t.output,
        cacheReadTokens: t.cacheRead,
        cacheWriteTokens: t.cacheWrite,
        reasoningTokens: t.reasoning,
        estimated: false,
        found: true,
        source: "usage_metadata",
        contradictedTotal: null,
      });
      const start = result.start!;
      const model = extractModel(result.end!.output, {
        metadata: start.metadata,
        invocationParams: start.extraParams?.invocation_params as Record<string, unknown>,
        serialized: start.serialized,
        runName: start.runName,
      });
      expect(model).toEqual(EXPECTED_MODEL[scenario.client]);
    });
  }

  it("pins the streaming traps the corrections exist for", async () => {
    const anthropic = await runScenario({ ...SCENARIOS.find((s) => s.name === "anthropic.stream")! });
    // Without the observed message_start chunk, output is one too high (1 = the fake's provisional count).
    expect(extractUsage(anthropic.end!.output).outputTokens).toBe(anthropic.truth.output + 1);
    expect(observe(anthropic)?.anthropicStartOutputTokens).toBe(1);

    const gemini = await runScenario({ ...SCENARIOS.find((s) => s.name === "gemini.stream")! });
    const raw = gemini.end!.output.generations[0][0] as any;
    // The client sums the cumulative cache count of every chunk (3 chunks).
    expect(raw.message.usage_metadata.input_token_details.cache_read).toBe(3 * gemini.truth.cacheRead);
    expect(observe(gemini)?.chunks).toBe(3);
    // Without the observation the count is at least clamped to the input.
    expect(extractUsage(gemini.end!.output).cacheReadTokens).toBe(gemini.truth.input);

    const geminiPlain = await runScenario({ ...SCENARIOS.find((s) => s.name === "gemini.invoke")! });
    const msg = (geminiPlain.end!.output.generations[0][0] as any).message;
    // Gemini's output_tokens leave the thinking out; the total has it.
    expect(msg.usage_metadata.output_tokens).toBe(geminiPlain.truth.output - geminiPlain.truth.reasoning);
    expect(msg.usage_metadata.total_tokens).toBe(geminiPlain.truth.input + geminiPlain.truth.output);
  });

  it("OpenAI chat streaming: the tiktoken estimate in llmOutput loses to the real usage", async () => {
    const result = await runScenario({ ...SCENARIOS.find((s) => s.name === "openai-chat.streaming-invoke")! });
    const est = result.end!.output.llmOutput?.estimatedTokenUsage;
    expect(est.promptTokens).toBeGreaterThan(0);
    expect(est.promptTokens).not.toBe(result.truth.input);
    expect(extractUsage(result.end!.output).inputTokens).toBe(result.truth.input);
  });

  it("OpenAI chat streaming without stream usage: only the tiktoken estimate, flagged estimated", async () => {
    const server = await startFakeOpenAIChatServer({ usage: { input: 500, output: 50 } });
    try {
      const model = new ChatOpenAI({
        model: "gpt-4o-mini",
        apiKey: "sk-fake",
        configuration: { baseURL: server.url },
        maxRetries: 0,
        streaming: true,
        streamUsage: false,
      });
      const handler = new CaptureHandler();
      await model.invoke([new HumanMessage("Say hello.")], { callbacks: [handler] });
      expect(server.seen[0].body.stream_options).toBeUndefined();
      const usage = extractUsage(handler.ends[0].output);
      expect(usage.found).toBe(true);
      expect(usage.estimated).toBe(true);
      expect(usage.source).toBe("estimated_token_usage");
      expect(usage.inputTokens).toBeGreaterThan(0);
      expect(usage.inputTokens).toBeLessThan(500);
    } finally {
      await server.close();
    }
  });

  it("Azure addressed by azureOpenAIEndpoint: deployment kept apart from the reported model", async () => {
    const server = await startFakeAzureServer({ usage: { input: 40, output: 4 } });
    try {
      const model = new AzureChatOpenAI({
        azureOpenAIApiKey: "fake-key",
        azureOpenAIEndpoint: server.url,
        azureOpenAIApiDeploymentName: "team-a-4o",
        azureOpenAIApiVersion: "2024-10-21",
        maxRetries: 0,
      });
      const handler = new CaptureHandler();
      await model.invoke([new HumanMessage("hi")], { callbacks: [handler] });
      expect(server.deployments).toEqual(["team-a-4o"]);
      const start = handler.starts[0];
      const extracted = extractModel(handler.ends[0].output, {
        metadata: start.metadata,
        invocationParams: start.extraParams?.invocation_params as Record<string, unknown>,
        serialized: start.serialized,
      });
      expect(extracted).toEqual({ model: "gpt-4o-2024-11-20", deployment: "team-a-4o", provider: "azure" });
      expect(extractUsage(handler.ends[0].output)).toMatchObject({ inputTokens: 40, outputTokens: 4 });
    } finally {
      await server.close();
    }
  });

  it("a LangChain cache hit is signalled by extraParams.cached and costs no request", async () => {
    const server = await startFakeOpenAIChatServer();
    try {
      const model = makeClient("openai-chat", server.url) as ChatOpenAI;
      model.cache = new InMemoryCache();
      const handler = new CaptureHandler();
      await model.invoke([new HumanMessage("cache me")], { callbacks: [handler] });
      // Extract now: on a hit, core zeroes usage_metadata on the cached generation objects, which
      // are the very objects the first handleLLMEnd received. A handler must extract in handleLLMEnd.
      const firstUsage = extractUsage(handler.ends[0].output);
      await model.invoke([new HumanMessage("cache me")], { callbacks: [handler] });
      expect(server.requests).toBe(1);
      expect(handler.ends).toHaveLength(2);
      expect(isLangChainCacheHit(handler.ends[0].extraParams)).toBe(false);
      expect(isLangChainCacheHit(handler.ends[1].extraParams)).toBe(true);
      expect(firstUsage.inputTokens).toBe(120);
      expect(extractUsage(handler.ends[0].output).inputTokens).toBe(0);
      expect(extractUsage(handler.ends[1].output)).toMatchObject({ inputTokens: 0, outputTokens: 0, found: true });
    } finally {
      await server.close();
    }
  });

  it("the fake OpenAI server drives a tool loop: tool call first, answer after the tool result", async () => {
    const server = await startFakeOpenAIChatServer({
      toolCall: { args: { city: "Paris" } },
      usage: (i) => ({ input: 100 + i, output: 10 + i }),
    });
    try {
      const weather = tool(async ({ city }) => `sunny in ${city}`, {
        name: "get_weather",
        description: "Weather for a city",
        schema: z.object({ city: z.string() }),
      });
      for (const streaming of [false, true]) {
        const model = (makeClient("openai-chat", server.url, { streaming }) as ChatOpenAI).bindTools([weather]);
        const handler = new CaptureHandler();
        const question = new HumanMessage("Weather in Paris?");
        const first = await model.invoke([question], { callbacks: [handler] });
        expect(first.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Paris" } });
        const toolResult = new ToolMessage({ content: "sunny in Paris", tool_call_id: first.tool_calls![0].id! });
        const second = await model.invoke([question, first, toolResult], { callbacks: [handler] });
        expect(second.text).toContain("sunny in Paris");
        expect(second.tool_calls ?? []).toHaveLength(0);
        const counts = handler.ends.map((e) => extractUsage(e.output).inputTokens);
        expect(counts[1]).toBe(counts[0] + 1);
      }
      expect(server.requests).toBe(4);
    } finally {
      await server.close();
    }
  });
});
