/**
 * The README's attribution example, run: a langchain v1 `createAgent({ name })` name
 * wins over the `agentName` option, which names calls made outside a named agent.
 */
import { createAgent } from "langchain";
import { describe, expect, it } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import { attachTokenTracking, createTokenMonitor } from "../../src/index.js";

describe("attribution order", () => {
  it("createAgent({ name }) wins over the agentName option", async () => {
    const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", env: {}, budget: false });
    try {
      const agent = createAgent({ model: new ScriptedChatModel({ model: "gpt-4o-mini" }), tools: [], name: "triage" });
      const config = () => attachTokenTracking({ configurable: { user_id: "alice", thread_id: "t-1" } }, { agentName: "support-bot", monitor });
      await agent.invoke({ messages: [{ role: "user", content: "hi" }] }, config());
      await new ScriptedChatModel({ model: "gpt-4o-mini" }).invoke("hi", config());
      await monitor.flush();
      const records = await monitor.store.list({}, { limit: 10 });
      expect(records.map((r) => r.agentName).sort()).toEqual(["support-bot", "triage"]);
      expect(records.every((r) => r.userId === "alice" && r.threadId === "t-1")).toBe(true);
    } finally {
      await monitor.close();
    }
  });
});
