/**
 * The end-to-end proof: a LangGraph ReAct agent on the real ChatOpenAI client,
 * talking HTTP to the fake OpenAI server, with tool calls, two users and three
 * threads. Every record must add up exactly to what the server reported.
 */
import { tool } from "@langchain/core/tools";
import { createReactAgent } from "@langchain/langgraph/prebuilt";
import { ChatOpenAI } from "@langchain/openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { attachTokenTracking, createTokenMonitor, type TokenMonitoringService } from "../../src/index.js";
import { startFakeOpenAIChatServer } from "../providers/fake-servers/index.js";
import type { FakeServer, FakeUsage } from "../providers/fake-servers/shared.js";

// Each request gets distinct numbers, so a record attributed to the wrong user or thread shows.
const usageFor = (i: number): FakeUsage => ({
  input: 200 + 17 * i,
  output: 20 + 3 * i,
  cacheRead: i % 2 === 0 ? 128 : 0,
  cacheWrite: 0,
  reasoning: 0,
});

describe("LangGraph agent with tool calls, 2 users, 3 threads", () => {
  let server: FakeServer;
  let monitor: TokenMonitoringService;

  beforeAll(async () => {
    server = await startFakeOpenAIChatServer({ usage: usageFor, toolCall: { name: "get_weather", args: { city: "Paris" } } });
    monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:" });
  });
  afterAll(async () => {
    await monitor.close();
    await server.close();
  });

  it("records every model call, attributed and summing exactly to the provider's usage", async () => {
    const weather = tool(async ({ city }: { city: string }) => `Sunny in ${city}`, {
      name: "get_weather",
      description: "Weather for a city",
      schema: z.object({ city: z.string() }),
    });
    const llm = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test-key", configuration: { baseURL: server.url }, maxRetries: 0 });
    const agent = createReactAgent({ llm, tools: [weather], name: "weather_agent" });

    const conversations = [
      { user: "user-a", thread: "thread-a1", turns: 2 },
      { user: "user-a", thread: "thread-a2", turns: 1 },
      { user: "user-b", thread: "thread-b1", turns: 3 },
    ];
    const expected = new Map<string, { input: number; output: number; cacheRead: number; calls: number }>();
    const add = (key: string, u: FakeUsage) => {
      const e = expected.get(key) ?? { input: 0, output: 0, cacheRead: 0, calls: 0 };
      e.input += u.input;
      e.output += u.output;
      e.cacheRead += u.cacheRead;
      e.calls += 1;
      expected.set(key, e);
    };
    for (const c of conversations) {
      for (let turn = 0; turn < c.turns; turn++) {
        const before = server.requests;
        const config = attachTokenTracking({ configurable: { user_id: c.user, thread_id: c.thread } }, { monitor });
        const result = await agent.invoke({ messages: [{ role: "user", content: `weather please (${turn})` }] }, config);
        expect(result.messages.some((m: { getType(): string }) => m.getType() === "tool")).toBe(true);
        for (let i = before; i < server.requests; i++) {
          add(`user:${c.user}`, usageFor(i));
          add(`thread:${c.thread}`, usageFor(i));
        }
      }
    }
    await monitor.flush();

    const range = { days: 1, end: new Date(Date.now() + 60_000) };
    for (const user of ["user-a", "user-b"]) {
      const stats = await monitor.getUserUsage(user, range);
      const e = expected.get(`user:${user}`)!;
      expect(stats.totalRequests).toBe(e.calls);
      expect(stats.totalInputTokens).toBe(e.input);
      expect(stats.totalOutputTokens).toBe(e.output);
      expect(stats.cacheReadTokens).toBe(e.cacheRead);
      expect(stats.unpricedRequests).toBe(0);
      expect(stats.requestsByAgent).toEqual({ weather_agent: e.calls });
    }
    for (const c of conversations) {
      const stats = await monitor.getThreadUsage(c.thread);
      const e = expected.get(`thread:${c.thread}`)!;
      expect(stats.totalRequests).toBe(e.calls);
      expect(stats.totalInputTokens).toBe(e.input);
      expect(stats.totalOutputTokens).toBe(e.output);
    }
    // Two model calls per turn (tool call, then answer): 12 in all, none lost or doubled.
    expect(server.requests).toBe(12);
    const page = await monitor.getAllUsage({ ...range, limit: 100 });
    expect(page.records).toHaveLength(12);
    expect(new Set(page.records.map((r) => r.id)).size).toBe(12);
    expect(page.records.every((r) => r.model === "gpt-4o-mini-2024-07-18" && r.provider === "openai" && r.totalCost > 0)).toBe(true);
  });
});
