import { describe, expect, it } from "vitest";
import { createTokenMonitor } from "../../src/index.js";

describe("getComprehensiveReport", () => {
  it("gathers every breakdown and the budget status of the global limits", async () => {
    const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", env: { DAILY_TOKEN_BUDGET: "100000" } });
    for (const [user, thread, model] of [["a", "a1", "gpt-4o"], ["a", "a2", "gpt-4o-mini"], ["b", "b1", "gpt-4o"]] as const) {
      await monitor.trackUsage({ userId: user, threadId: thread, provider: "openai", model, inputTokens: 1000, outputTokens: 100, agentName: "bot" });
    }
    await monitor.flush();
    const report = await monitor.getComprehensiveReport({ days: 1, end: new Date(Date.now() + 60_000) });
    expect(report.overall.totalRequests).toBe(3);
    expect(report.byModel.map((m) => m.key).sort()).toEqual(["gpt-4o", "gpt-4o-mini"]);
    expect(report.byProvider).toMatchObject([{ key: "openai", totalRequests: 3 }]);
    expect(report.byAgent).toMatchObject([{ key: "bot", totalRequests: 3 }]);
    expect(report.topUsers.map((u) => u.key)).toEqual(["a", "b"]);
    expect(report.topThreads).toHaveLength(3);
    expect(report.budget).toMatchObject([{ limitId: "env:daily-tokens", scope: "global", metric: "tokens", limit: 100000, used: 3300, remaining: 96700, state: "ok" }]);
    await monitor.close();
  });
});
