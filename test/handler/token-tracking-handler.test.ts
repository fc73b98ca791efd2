import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { CallbackManager } from "@langchain/core/callbacks/manager";
import { InMemoryCache } from "@langchain/core/caches";
import type { Serialized } from "@langchain/core/load/serializable";
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { describe, expect, it, vi } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import {
  ANONYMOUS_USER,
  TokenTrackingCallbackHandler,
  attachTokenTracking,
  createPricer,
  createTokenMonitor,
  type UsageRecord,
} from "../../src/index.js";

const pricer = createPricer({ logger: { warn: () => undefined } });
const quiet = { warn: () => undefined, error: () => undefined };

function collectingHandler(options: Partial<ConstructorParameters<typeof TokenTrackingCallbackHandler>[0]> = {}) {
  const records: UsageRecord[] = [];
  const handler = new TokenTrackingCallbackHandler({ sink: { enqueue: (r) => records.push(r) }, pricer, logger: quiet, ...options });
  return { handler, records };
}

class FailingModel extends ScriptedChatModel {
  override async _generate(): Promise<never> {
    throw new Error("provider returned 500");
  }
}

describe("TokenTrackingCallbackHandler", () => {
  it("records one priced record per chat call with user, thread and agent from metadata", async () => {
    const { handler, records } = collectingHandler({ agentName: "default_agent" });
    const model = new ScriptedChatModel({ model: "gpt-4o-mini-2024-07-18" });
    await model.invoke([new HumanMessage("hello")], {
      callbacks: [handler],
      metadata: { user_id: "u1", thread_id: "t1", feature: "search", request_source: "web" },
    });
    expect(records).toHaveLength(1);
    const r = records[0];
    expect(r).toMatchObject({
      userId: "u1",
      threadId: "t1",
      agentName: "default_agent",
      operationType: "chat",
      provider: "openai",
      model: "gpt-4o-mini-2024-07-18",
      priced: true,
      error: false,
      dimensions: { feature: "search" },
    });
    expect(r.inputTokens).toBe(300 + Math.ceil("hello".length / 4));
    expect(r.totalTokens).toBe(r.inputTokens + r.outputTokens);
    expect(r.totalCostNanos).toBe(r.inputCostNanos + r.outputCostNanos);
    expect(r.totalCostNanos).toBeGreaterThan(0);
    expect(r.id).toBe(r.runId);
    // Application metadata is kept; attribution and LangChain plumbing are not duplicated into it.
    expect(r.requestMetadata).toEqual({ request_source: "web" });
    expect(handler.openRuns).toBe(0);
  });

  it("uses a documented placeholder when no user is known, and lc_agent_name over the default", async () => {
    const { handler, records } = collectingHandler({ agentName: "fallback" });
    await new ScriptedChatModel().invoke("hi", { callbacks: [handler], metadata: { lc_agent_name: "planner" } });
    expect(records[0].userId).toBe(ANONYMOUS_USER);
    expect(records[0].agentName).toBe("planner");
    expect(records[0].threadId).toBeNull();
  });

  it("reads conversation_id or session_id as the thread", async () => {
    const { handler, records } = collectingHandler();
    await new ScriptedChatModel().invoke("hi", { callbacks: [handler], metadata: { user_id: "u", session_id: "s-9" } });
    expect(records[0].threadId).toBe("s-9");
  });

  it("records a failed call as an error record with zero usage, and rethrows only the provider's error", async () => {
    const { handler, records } = collectingHandler();
    await expect(new FailingModel().invoke("hi", { callbacks: [handler], metadata: { user_id: "u" } })).rejects.toThrow("provider returned 500");
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ error: true, errorMessage: "provider returned 500", inputTokens: 0, outputTokens: 0, totalCostNanos: 0 });
    expect(handler.openRuns).toBe(0);
  });

  it("keeps no run state after 100,000 failed calls", () => {
    const { handler, records } = collectingHandler();
    const llm: Serialized = { lc: 1, type: "not_implemented", id: ["langchain", "chat_models", "openai", "ChatOpenAI"] };
    for (let i = 0; i < 100_000; i++) {
      const runId = `run-${i}`;
      handler.handleChatModelStart(llm, [[new HumanMessage("x")]], runId, undefined, { invocation_params: { model: "gpt-4o" } }, [], {
        ls_provider: "openai",
        ls_model_name: "gpt-4o",
      });
      handler.handleLLMError(new Error("boom"), runId);
    }
    expect(handler.openRuns).toBe(0);
    expect(records).toHaveLength(100_000);
    expect(records.every((r) => r.error && r.model === "gpt-4o")).toBe(true);
  });

  it("drops runs whose end never came (a refused start, an abandoned stream) after an hour", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(new Date("2026-01-01T00:00:00Z"));
      const { handler, records } = collectingHandler();
      const llm: Serialized = { lc: 1, type: "not_implemented", id: ["x"] };
      handler.handleChainStart(llm, {}, "chain-left-open", undefined, [], {}, "chain", "agent_x");
      handler.handleChatModelStart(llm, [[new HumanMessage("x")]], "model-left-open", "chain-left-open", {}, [], {});
      expect(handler.openRuns).toBe(2);
      vi.setSystemTime(new Date("2026-01-01T02:00:00Z"));
      // The sweep runs every 1,024 starts; these calls all end normally.
      for (let i = 0; i < 1024; i++) {
        handler.handleChatModelStart(llm, [[new HumanMessage("x")]], `r${i}`, undefined, {}, [], { ls_model_name: "gpt-4o" });
        handler.handleLLMError(new Error("e"), `r${i}`);
      }
      expect(handler.openRuns).toBe(0);
      expect(records).toHaveLength(1024);
    } finally {
      vi.useRealTimers();
    }
  });

  it("records once when the same instance is attached twice, and once per instance for two instances", async () => {
    const one = collectingHandler();
    await new ScriptedChatModel().invoke("hi", { callbacks: [one.handler, one.handler] });
    expect(one.records).toHaveLength(1);

    const a = collectingHandler();
    const b = collectingHandler();
    await new ScriptedChatModel().invoke("hi", { callbacks: [a.handler, b.handler] });
    expect(a.records).toHaveLength(1);
    expect(b.records).toHaveLength(1);
    expect(a.records[0].id).toBe(b.records[0].id);
  });

  it("records a LangChain cache hit as cached, with zero tokens and zero cost", async () => {
    const { handler, records } = collectingHandler();
    const model = new ScriptedChatModel({ cache: new InMemoryCache() });
    await model.invoke("same prompt", { callbacks: [handler] });
    await model.invoke("same prompt", { callbacks: [handler] });
    expect(records).toHaveLength(2);
    expect(records[0].cached).toBe(false);
    expect(records[1]).toMatchObject({ cached: true, inputTokens: 0, outputTokens: 0, totalCostNanos: 0, priced: true });
  });

  it("never throws into the chain when its sink throws", async () => {
    const warnings: string[] = [];
    const handler = new TokenTrackingCallbackHandler({
      sink: { enqueue: () => { throw new Error("disk full"); } },
      pricer,
      logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    });
    const result = await new ScriptedChatModel().invoke("hi", { callbacks: [handler] });
    expect(result).toBeInstanceOf(AIMessage);
    expect(warnings.join("\n")).toMatch(/disk full/);
  });
});

describe("attachTokenTracking", () => {
  it("copies configurable attribution into metadata and keeps existing callbacks (array)", async () => {
    const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:" });
    const seen: string[] = [];
    class Probe extends BaseCallbackHandler {
      name = "probe";
      override handleLLMEnd() {
        seen.push("end");
      }
    }
    const config = attachTokenTracking(
      { configurable: { user_id: "u7", thread_id: "t7" }, callbacks: [new Probe()], metadata: { app: "x" } },
      { agentName: "agent_7", monitor, dimensions: { tenant: "acme" } },
    );
    expect(config.metadata).toMatchObject({ app: "x", user_id: "u7", thread_id: "t7", dimensions: { tenant: "acme" } });
    await new ScriptedChatModel().invoke("hello", config);
    await monitor.flush();
    expect(seen).toEqual(["end"]);
    const page = await monitor.getAllUsage({ userId: "u7" });
    expect(page.records).toHaveLength(1);
    expect(page.records[0]).toMatchObject({ userId: "u7", threadId: "t7", agentName: "agent_7", dimensions: { tenant: "acme" } });
    expect((await monitor.getUsageBy("tenant"))[0]).toMatchObject({ key: "acme", totalRequests: 1 });
    await monitor.close();
  });

  it("adds to a CallbackManager without dropping its handlers", async () => {
    const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:" });
    const ended: string[] = [];
    const manager = new CallbackManager();
    manager.addHandler(
      BaseCallbackHandler.fromMethods({ handleLLMEnd: () => void ended.push("manager handler") }),
      true,
    );
    const config = attachTokenTracking({ callbacks: manager, configurable: { user_id: "m1" } }, { monitor });
    await new ScriptedChatModel().invoke("hello", config);
    await monitor.flush();
    expect(ended).toEqual(["manager handler"]);
    expect((await monitor.getUserUsage("m1")).totalRequests).toBe(1);
    await monitor.close();
  });

  it("records nothing when tracking is disabled", async () => {
    const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", enabled: false });
    await new ScriptedChatModel().invoke("hello", attachTokenTracking({ configurable: { user_id: "off" } }, { monitor }));
    await monitor.flush();
    expect((await monitor.getUserUsage("off")).totalRequests).toBe(0);
    await monitor.close();
  });
});
