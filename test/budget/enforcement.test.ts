import { ChatOpenAI } from "@langchain/openai";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BudgetExceededError } from "../../src/errors.js";
import { attachTokenTracking } from "../../src/handler/attach.js";
import { budgeted, startFakeOpenAI, startFakeWebhook, tempDbPath, type FakeOpenAI } from "./support.js";

const cleanups: Array<() => Promise<void> | void> = [];
// LangChain logs every error a raiseError handler throws; the refusals here are expected.
beforeEach(() => {
  vi.spyOn(console, "error").mockImplementation(() => undefined);
});
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

// Every call: prompt "hi" -> estimate ceil(2/4) + 4 per message = 5 tokens, plus max_tokens 20.
// The fake server reports exactly that (5 + 20), so each call is worth 25 tokens either way.
const PER_CALL = { prompt: 5, completion: 20 };
// gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output -> 5 * 150 + 20 * 600 nano-dollars.
const PER_CALL_NANOS = 5 * 150 + 20 * 600;

async function world(budget: Parameters<typeof budgeted>[1] = {}, delayMs = 0) {
  const server = await startFakeOpenAI(PER_CALL, delayMs);
  const db = tempDbPath();
  const b = budgeted(db.path, budget);
  cleanups.push(db.cleanup, () => server.close(), () => b.monitor.close());
  const model = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", maxTokens: 20, maxRetries: 0, configuration: { baseURL: server.url } });
  const call = (userId: string) =>
    model.invoke("hi", attachTokenTracking({ metadata: { user_id: userId } }, { monitor: b.monitor, extraHandlers: [b.guard.createHandler()] }));
  return { ...b, server, model, call };
}

async function settle<T>(promises: Promise<T>[]) {
  const results = await Promise.allSettled(promises);
  const refused = results.filter((r) => r.status === "rejected");
  for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(BudgetExceededError);
  return { ok: results.length - refused.length, refused: refused.length };
}

describe("enforcement through a real ChatOpenAI client", () => {
  it("the guard handler is built to be awaited and to propagate its error", async () => {
    const { guard } = await world();
    const handler = guard.createHandler();
    expect(handler.raiseError).toBe(true);
    expect(handler.awaitHandlers).toBe(true);
  });

  it("block mode refuses an over-budget call before any request reaches the provider", async () => {
    const { monitor, guard, server, call } = await world();
    await guard.setLimit({ id: "alice-day", scope: "user:alice", metric: "tokens", amount: 1000, mode: "block" });
    await monitor.trackUsage({ userId: "alice", provider: "openai", model: "gpt-4o-mini", inputTokens: 990, outputTokens: 0 });
    await monitor.flush();

    const error = await call("alice").catch((e) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as BudgetExceededError).details).toMatchObject({ limitId: "alice-day", scope: "user:alice", metric: "tokens", limit: 1000, used: 990, remaining: 10 });
    expect(server.requests).toBe(0);
    expect(guard.reservations.size).toBe(0);

    // Another user is not affected by alice's limit.
    await call("bob");
    expect(server.requests).toBe(1);
  });

  it("warn mode lets the call through and alerts once per threshold", async () => {
    const { monitor, guard, server, alerts, call } = await world();
    await guard.setLimit({ id: "tiny", scope: "global", metric: "tokens", amount: 30, mode: "warn" });
    await call("alice"); // 25 of 30: 83%
    await call("alice"); // 50 of 30
    await call("alice");
    expect(server.requests).toBe(3);
    await monitor.flush();
    await guard.flushAlerts();
    expect(alerts.map((a) => [a.threshold, a.mode])).toEqual([
      [0.8, "warn"],
      [0.95, "warn"],
      [1, "warn"],
    ]);
    const [status] = await guard.getBudgetStatus("alice");
    expect(status).toMatchObject({ used: 75, inFlight: 0, state: "exceeded" });
  });

  it.each([
    ["tokens", 10 * (PER_CALL.prompt + PER_CALL.completion)],
    ["cost", (10 * PER_CALL_NANOS) / 1e9],
  ] as const)("50 concurrent calls with room for 10 (%s) let 10 through and spend stays within the limit", async (metric, amount) => {
    const { monitor, guard, server, call } = await world({}, 30);
    await guard.setLimit({ id: "room-for-10", scope: "global", metric, amount, mode: "block" });
    const { ok, refused } = await settle(Array.from({ length: 50 }, (_, i) => call(`user-${i % 5}`)));
    expect(ok).toBe(10);
    expect(refused).toBe(40);
    expect(server.requests).toBe(10);

    await monitor.flush();
    const overall = await monitor.getOverallUsage({ days: 1 });
    expect(overall.totalRequests).toBe(10);
    const spent = metric === "tokens" ? overall.totalTokens : overall.totalCostNanos / 1e9;
    expect(spent).toBeLessThanOrEqual(amount);
    const [status] = await guard.getBudgetStatus();
    expect(status).toMatchObject({ used: amount, inFlight: 0, remaining: 0 });

    // The budget is spent: the next call is refused without a request.
    await expect(call("late")).rejects.toBeInstanceOf(BudgetExceededError);
    expect(server.requests).toBe(10);
  });

  it("a failed call releases its reservation", async () => {
    const { guard, server, call } = await world();
    await guard.setLimit({ scope: "global", metric: "tokens", amount: 25, mode: "block" });
    await server.close();
    await expect(call("alice")).rejects.not.toBeInstanceOf(BudgetExceededError);
    expect(guard.reservations.size).toBe(0);
    expect((await guard.getBudgetStatus())[0]).toMatchObject({ used: 0, inFlight: 0 });
  });

  it("a hanging webhook never slows model calls, and its alert arrives once it answers", async () => {
    const hook = await startFakeWebhook("hang");
    cleanups.push(() => hook.close());
    const { monitor, guard, server, call } = await world({ webhook: { url: hook.url, timeoutMs: 300, retryDelayMs: 50, maxRetryDelayMs: 200 } });
    await guard.setLimit({ id: "hooked", scope: "global", metric: "tokens", amount: 25, mode: "warn" });
    await call("alice"); // warm the client up
    await monitor.flush();

    // The webhook never answers while in "hang" mode: calls that waited on it would never
    // finish, so their completing (with nothing delivered yet) shows it is off their path.
    for (let i = 0; i < 5; i++) await call("alice");
    expect(server.requests).toBe(6);
    expect(hook.delivered).toEqual([]);

    await waitFor(() => hook.attempts.length >= 2);
    expect(hook.delivered).toEqual([]);
    hook.mode = "ok";
    await guard.flushAlerts();
    expect(hook.delivered.map((d) => [d.type, d.limitId, d.threshold])).toEqual([
      ["budget_alert", "hooked", 0.8],
      ["budget_alert", "hooked", 0.95],
      ["budget_alert", "hooked", 1],
    ]);
    expect(hook.attempts.length).toBeGreaterThan(3);
    expect(guard.alerts.webhook?.stats).toMatchObject({ sent: 3, dropped: 0 });
  });

  it("a webhook that refuses is retried with backoff until it accepts", async () => {
    const hook = await startFakeWebhook("fail");
    cleanups.push(() => hook.close());
    const { monitor, guard, call } = await world({ webhook: { url: hook.url, retryDelayMs: 20, maxRetryDelayMs: 80 } });
    await guard.setLimit({ id: "refused-hook", scope: "global", metric: "tokens", amount: 20, thresholds: [] });
    await call("alice");
    await monitor.flush();
    await waitFor(() => hook.attempts.length >= 3);
    expect(hook.delivered).toEqual([]);
    hook.mode = "ok";
    await guard.flushAlerts();
    expect(hook.delivered.map((d) => [d.limitId, d.threshold, d.level])).toEqual([["refused-hook", 1, "exceeded"]]);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

export type { FakeOpenAI };
