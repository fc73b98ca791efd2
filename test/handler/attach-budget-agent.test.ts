/**
 * `attachTokenTracking(config, { agentName, budget })`: the guard counts the call under the
 * agent the tracking handler records it under, so an `agent:<name>` limit applies.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import { describe, expect, it } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import { attachTokenTracking, BudgetExceededError, createTokenMonitor, type BudgetLimitInput } from "../../src/index.js";

/** A monitor with one blocking limit, and a call through attachTokenTracking with the guard. */
function guarded(limit: Omit<BudgetLimitInput, "mode">) {
  const monitor = createTokenMonitor({
    sqlitePath: ":memory:",
    env: {},
    budget: { limits: [{ ...limit, mode: "block" }] },
    logger: { warn: () => undefined, error: () => undefined },
  });
  const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
  const call = (config: RunnableConfig, options: { agentName?: string; userId?: string }) =>
    model.invoke("hello", attachTokenTracking(config, { monitor, ...options, budget: true }));
  return { monitor, call };
}

describe("attachTokenTracking's agent name and budgets", () => {
  it("an agent:<name> limit refuses the calls of the agent named in the options, and only those", async () => {
    const { monitor, call: attached } = guarded({ scope: "agent:support", metric: "requests", amount: 2 });
    const call = (agentName: string) => attached({ metadata: { user_id: "u1" } }, { agentName });
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
    const { monitor, call: attached } = guarded({ scope: "user:*", metric: "requests", amount: 1 });
    const call = (userId: string) => attached({}, { userId });
    await call("a");
    await expect(call("a")).rejects.toBeInstanceOf(BudgetExceededError);
    await call("b");
    await monitor.flush();
    expect((await monitor.getUserUsage("a")).totalRequests).toBe(1);
    expect((await monitor.getUserUsage("b")).totalRequests).toBe(1);
    await monitor.close();
  });
});
