/**
 * `attachTokenTracking` shares one handler per monitor and agent name across requests: each
 * request's attribution travels in its config's metadata. Concurrent requests of different
 * users must still be told apart, and the options' attribution must win wherever the
 * metadata holds no usable value, as the handler's own defaults did.
 */
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { RunnableConfig } from "@langchain/core/runnables";
import { describe, expect, it } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import { attachTokenTracking, createTokenMonitor, TokenTrackingCallbackHandler } from "../../src/index.js";

const handlersOf = (config: RunnableConfig) => (config.callbacks as BaseCallbackHandler[]).filter((h) => h instanceof TokenTrackingCallbackHandler);

describe("attachTokenTracking's shared handler", () => {
  it("is one instance per agent name, and concurrent requests of different users are attributed apart", async () => {
    const monitor = createTokenMonitor({ sqlitePath: ":memory:", env: {}, budget: false });
    const a = attachTokenTracking({}, { monitor, agentName: "support", userId: "alice", threadId: "ta" });
    const b = attachTokenTracking({}, { monitor, agentName: "support", userId: "bob", threadId: "tb", dimensions: { tenant: "acme" } });
    const c = attachTokenTracking({}, { monitor, agentName: "research", userId: "carol" });
    expect(handlersOf(a)).toHaveLength(1);
    expect(handlersOf(a)[0]).toBe(handlersOf(b)[0]);
    expect(handlersOf(c)[0]).not.toBe(handlersOf(a)[0]);

    const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
    // Interleaved: every call of one user is in flight while the others' are.
    await Promise.all(Array.from({ length: 30 }, (_, i) => model.invoke(`q${i}`, [a, b, c][i % 3])));
    await monitor.flush();
    const rows = (await monitor.getAllUsage({ limit: 100 })).records.map((r) => [r.userId, r.threadId, r.agentName, r.dimensions.tenant ?? null]);
    expect(rows.filter(([u]) => u === "alice")).toEqual(Array(10).fill(["alice", "ta", "support", null]));
    expect(rows.filter(([u]) => u === "bob")).toEqual(Array(10).fill(["bob", "tb", "support", "acme"]));
    expect(rows.filter(([u]) => u === "carol")).toEqual(Array(10).fill(["carol", null, "research", null]));
    expect(handlersOf(a)[0].openRuns).toBe(0);
    await monitor.close();
  });

  it("puts the options' user and thread where the metadata holds no usable id", async () => {
    const monitor = createTokenMonitor({ sqlitePath: ":memory:", env: {}, budget: false });
    const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
    await model.invoke("x", attachTokenTracking({ metadata: { user_id: "", thread_id: { not: "an id" } } }, { monitor, userId: "dave", threadId: "td" }));
    await model.invoke("y", attachTokenTracking({ metadata: { user_id: "erin", thread_id: 42 } }, { monitor, userId: "ignored", threadId: "ignored" }));
    await monitor.flush();
    const rows = (await monitor.getAllUsage({ limit: 100 })).records.map((r) => [r.userId, r.threadId]);
    expect(rows).toEqual(expect.arrayContaining([["dave", "td"], ["erin", "42"]]));
    expect(rows).toHaveLength(2);
    await monitor.close();
  });
});
