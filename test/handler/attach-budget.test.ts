import { describe, expect, it } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import { attachTokenTracking, BudgetExceededError, createTokenMonitor } from "../../src/index.js";

class CountingModel extends ScriptedChatModel {
  calls = 0;
  override async _generate(...args: Parameters<ScriptedChatModel["_generate"]>) {
    this.calls++;
    return super._generate(...args);
  }
}

describe("attachTokenTracking with budgets", () => {
  it("enforces env limits without further options when BUDGET_ENFORCEMENT=block", async () => {
    const monitor = createTokenMonitor({
      store: "sqlite",
      sqlitePath: ":memory:",
      env: { BUDGET_ENFORCEMENT: "block", DAILY_TOKEN_BUDGET: "5000" },
      logger: { warn: () => undefined, error: () => undefined },
    });
    const model = new CountingModel();
    const run = () => model.invoke("hello there", attachTokenTracking({ configurable: { user_id: "b1" } }, { monitor }));
    let refused: unknown;
    for (let i = 0; i < 40 && !refused; i++) {
      try {
        await run();
        await monitor.flush();
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toBeInstanceOf(BudgetExceededError);
    expect((refused as BudgetExceededError).details).toMatchObject({ scope: "global", metric: "tokens", limit: 5000 });
    const stats = await monitor.getUserUsage("b1");
    // Every call that ran was recorded; the refused one never reached the model.
    expect(model.calls).toBe(stats.totalRequests);
    expect(model.calls).toBeGreaterThanOrEqual(5);
    expect(stats.totalTokens).toBeLessThanOrEqual(5000);
    await monitor.close();
  });

  it("only warns in warn mode, and adds no guard unless asked", async () => {
    const alerts: string[] = [];
    const monitor = createTokenMonitor({
      store: "sqlite",
      sqlitePath: ":memory:",
      env: { DAILY_TOKEN_BUDGET: "500" },
      budget: { onAlert: (a) => void alerts.push(`${a.threshold}`) },
      logger: { warn: () => undefined, error: () => undefined },
    });
    const model = new CountingModel();
    for (let i = 0; i < 4; i++) {
      await model.invoke("hello", attachTokenTracking({ configurable: { user_id: "w1" } }, { monitor, budget: true }));
      await monitor.flush();
    }
    expect(model.calls).toBe(4);
    expect(alerts.length).toBeGreaterThan(0);
    expect(new Set(alerts).size).toBe(alerts.length); // each threshold once
    await monitor.close();
  });
});
