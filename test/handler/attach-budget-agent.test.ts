/**
 * `attachTokenTracking(config, { agentName, budget })`: the guard counts the call under the
 * agent the tracking handler records it under, so an `agent:<name>` limit applies.
 */
import { describe, expect, it } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import { attachTokenTracking, BudgetExceededError, createTokenMonitor } from "../../src/index.js";

describe("attachTokenTracking's agent name and budgets", () => {
  it("an agent:<name> limit refuses the calls of the agent named in the options, and only those", async () => {
    const monitor = createTokenMonitor({
      sqlitePath: ":memory:",
      env: {},
      budget: { limits: [{ scope: "agent:support", metric: "requests", amount: 2, mode: "block" }] },
      logger: { warn: () => undefined, error: () => undefined },
    });
    const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
    const call = (agentName: string) => model.invoke("hello", attachTokenTracking({ metadata: { user_id: "u1" } }, { monitor, agentName, budget: true }));
    await call("support");
    await call("support");
    await expect(call("support")).rejects.toBeInstanceOf(BudgetExceededError);
    await call("research"); // another agent is not limited
    await monitor.flush();
    const byAgent = Object.fromEntries((await monitor.getUsageByAgent()).map((g) => [g.key, g.totalRequests]));
    expect(byAgent).toEqual({ support: 2, research: 1 });
    await monitor.close();
  });

  it("a per-user limit counts each request under the user of its options, the guard's handler being shared", async () => {
    const monitor = createTokenMonitor({
      sqlitePath: ":memory:",
      env: {},
      budget: { limits: [{ scope: "user:*", metric: "requests", amount: 1, mode: "block" }] },
      logger: { warn: () => undefined, error: () => undefined },
    });
    const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
    const call = (userId: string) => model.invoke("hello", attachTokenTracking({}, { monitor, userId, budget: true }));
    await call("a");
    await expect(call("a")).rejects.toBeInstanceOf(BudgetExceededError);
    await call("b");
    await monitor.flush();
    expect((await monitor.getUserUsage("a")).totalRequests).toBe(1);
    expect((await monitor.getUserUsage("b")).totalRequests).toBe(1);
    await monitor.close();
  });
});
