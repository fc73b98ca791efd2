import { afterEach, describe, expect, it } from "vitest";
import { createBudgetGuard } from "../../src/budget/index.js";
import { ValidationError } from "../../src/errors.js";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { budgeted, tempDbPath, TestClock } from "./support.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(clock: TestClock, budget: Parameters<typeof budgeted>[1] = {}, path?: string) {
  const db = path ? { path, cleanup: () => undefined } : tempDbPath();
  const b = budgeted(db.path, { now: clock.now, ...budget });
  cleanups.push(db.cleanup, () => b.monitor.close());
  return { ...b, path: db.path };
}

const usage = (userId: string, totalTokens: number, timestamp: string, extra: Record<string, unknown> = {}) => ({
  userId,
  provider: "openai",
  model: "gpt-4o-mini",
  inputTokens: totalTokens,
  outputTokens: 0,
  timestamp,
  ...extra,
});

describe("BudgetGuard periods", () => {
  it("a daily limit resets at the configured time in its zone, across a DST change", async () => {
    const clock = new TestClock(Date.parse("2026-03-07T15:00:00Z")); // 10:00 EST
    const { monitor, guard } = setup(clock);
    await guard.setLimit({ id: "ny-day", scope: "global", metric: "tokens", amount: 1000, timeZone: "America/New_York", resetTime: "09:00" });
    await monitor.trackUsage(usage("alice", 600, "2026-03-07T15:00:00Z"));
    await monitor.flush();

    let [status] = await guard.getBudgetStatus("alice");
    expect(status).toMatchObject({ limitId: "ny-day", used: 600, remaining: 400, periodStart: "2026-03-07T14:00:00.000Z", resetsAt: "2026-03-08T13:00:00.000Z" });

    clock.set("2026-03-08T12:59:00Z"); // 08:59 EDT: same period (it lasts 23 hours)
    await monitor.trackUsage(usage("alice", 100, "2026-03-08T12:30:00Z"));
    await monitor.flush();
    [status] = await guard.getBudgetStatus("alice");
    expect(status.used).toBe(700);

    clock.set("2026-03-08T13:00:00Z"); // 09:00 EDT: new period
    [status] = await guard.getBudgetStatus("alice");
    expect(status).toMatchObject({ used: 0, periodStart: "2026-03-08T13:00:00.000Z", resetsAt: "2026-03-09T13:00:00.000Z", state: "ok" });
  });

  it("a monthly limit resets on the 1st in its zone", async () => {
    const clock = new TestClock(Date.parse("2026-03-31T21:00:00Z"));
    const { monitor, guard } = setup(clock);
    await guard.setLimit({ id: "paris-month", scope: "user:*", metric: "tokens", amount: 10_000, period: "month", timeZone: "Europe/Paris" });
    await monitor.trackUsage(usage("bob", 3000, "2026-03-02T10:00:00Z"));
    await monitor.trackUsage(usage("bob", 2000, "2026-03-31T21:30:00Z")); // 23:30 in Paris: still March
    await monitor.trackUsage(usage("carol", 999, "2026-03-31T21:30:00Z"));
    await monitor.flush();
    clock.set("2026-03-31T21:59:59Z");
    expect((await guard.getBudgetStatus("bob"))[0]).toMatchObject({ scope: "user:bob", used: 5000, resetsAt: "2026-03-31T22:00:00.000Z" });
    clock.set("2026-03-31T22:00:00Z");
    expect((await guard.getBudgetStatus("bob"))[0]).toMatchObject({ used: 0, periodStart: "2026-03-31T22:00:00.000Z", resetsAt: "2026-04-30T22:00:00.000Z" });
  });

  it("a rolling window slides, both for usage seen live and for usage read back from the store", async () => {
    const clock = new TestClock(Date.parse("2026-06-01T10:15:00Z"));
    const { monitor, guard, path } = setup(clock);
    await guard.setLimit({ id: "roll", scope: "global", metric: "tokens", amount: 5000, period: { rollingHours: 2 } });
    expect((await guard.getBudgetStatus())[0].used).toBe(0);
    await monitor.trackUsage(usage("alice", 1000, "2026-06-01T10:15:00Z"));
    await monitor.flush();
    clock.set("2026-06-01T11:00:00Z");
    await monitor.trackUsage(usage("alice", 500, "2026-06-01T11:00:00Z"));
    await monitor.flush();
    expect((await guard.getBudgetStatus())[0].used).toBe(1500);
    clock.set("2026-06-01T12:14:00Z");
    expect((await guard.getBudgetStatus())[0].used).toBe(1500);
    clock.set("2026-06-01T12:16:30Z");
    expect((await guard.getBudgetStatus())[0].used).toBe(500);

    // A fresh guard on the same file reads the same window from the store.
    clock.set("2026-06-01T12:10:00Z");
    const again = setup(clock, {}, path);
    expect((await again.guard.getBudgetStatus())[0]).toMatchObject({ limitId: "roll", used: 1500, resetsAt: null });
    clock.set("2026-06-01T12:16:30Z");
    expect((await again.guard.getBudgetStatus())[0].used).toBe(500);
    // Usage leaves a 2-hour window in 2-minute buckets (1/60 of the window): the bucket
    // 11:00-11:02 counts while any part of it is inside the window, so until 13:02.
    clock.set("2026-06-01T13:01:59Z");
    expect((await again.guard.getBudgetStatus())[0].used).toBe(500);
    clock.set("2026-06-01T13:02:00Z");
    expect((await again.guard.getBudgetStatus())[0].used).toBe(0);
  });
});

describe("BudgetGuard limits and scopes", () => {
  it("keeps limits in the store, changeable at run time, with env limits maskable", async () => {
    const clock = new TestClock(Date.parse("2026-02-10T12:00:00Z"));
    const { guard, path } = setup(clock, { limits: [{ id: "env:daily-cost", scope: "global", metric: "cost", amount: 5 }] });
    await guard.setLimit({ scope: "user:*", metric: "cost", amount: 1, mode: "block" });
    await guard.setLimit({ scope: "user:alice", metric: "cost", amount: 3 });
    expect((await guard.listLimits()).map((l) => l.id).sort()).toEqual(["env:daily-cost", "user:*:cost:day", "user:alice:cost:day"]);
    await expect(guard.setLimit({ scope: "user:bob", metric: "cost", amount: -1 })).rejects.toThrow(ValidationError);
    expect(await guard.removeLimit("env:daily-cost")).toBe(true);
    expect(await guard.removeLimit("user:alice:cost:day")).toBe(true);
    expect(await guard.removeLimit("nope")).toBe(false);

    const restarted = setup(clock, { limits: [{ id: "env:daily-cost", scope: "global", metric: "cost", amount: 5 }] }, path);
    expect((await restarted.guard.listLimits()).map((l) => [l.id, l.mode])).toEqual([["user:*:cost:day", "block"]]);
  });

  it("counts cost per user and per provider separately from the global total", async () => {
    const clock = new TestClock(Date.parse("2026-02-10T12:00:00Z"));
    const { monitor, guard } = setup(clock);
    await guard.setLimit({ scope: "user:*", metric: "cost", amount: 1 });
    await guard.setLimit({ scope: "user:alice", metric: "cost", amount: 2 });
    await guard.setLimit({ scope: "global", metric: "tokens", amount: 1_000_000 });
    await guard.setLimit({ scope: "provider:anthropic", metric: "tokens", amount: 500 });
    // gpt-4o-mini: $0.15 / 1M input tokens -> 1M tokens = $0.15
    await monitor.trackUsage(usage("alice", 1_000_000, "2026-02-10T09:00:00Z"));
    await monitor.trackUsage(usage("bob", 2_000_000, "2026-02-10T09:00:00Z"));
    await monitor.trackUsage(usage("bob", 300, "2026-02-10T09:00:00Z", { provider: "anthropic", model: "claude-3-5-haiku-20241022" }));
    await monitor.flush();
    const alice = Object.fromEntries((await guard.getBudgetStatus("alice")).map((s) => [s.limitId, s]));
    expect(alice["user:alice:cost:day"]).toMatchObject({ used: 0.15, limit: 2 });
    expect(alice["user:*:cost:day"]).toBeUndefined();
    expect(alice["global:tokens:day"].used).toBe(3_000_300);
    expect(alice["global:tokens:day"].state).toBe("exceeded");
    expect(alice["provider:anthropic:tokens:day"].used).toBe(300);
    const bob = Object.fromEntries((await guard.getBudgetStatus("bob")).map((s) => [s.limitId, s]));
    // bob: $0.30 of gpt-4o-mini plus 300 claude-3-5-haiku input tokens at $0.80 / 1M
    expect(bob["user:*:cost:day"]).toMatchObject({ scope: "user:bob", used: 0.30024 });
  });

  it("takes global limits and the mode from the environment, and is off when tracking is off", async () => {
    const db = tempDbPath();
    const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: db.path, env: {} });
    cleanups.push(db.cleanup, () => monitor.close());
    await monitor.trackUsage(usage("alice", 150, new Date().toISOString()));
    await monitor.flush();
    const env = { DAILY_TOKEN_BUDGET: "100", BUDGET_ENFORCEMENT: "block" };
    const guard = createBudgetGuard(monitor, { env, logger: { warn: () => undefined, error: () => undefined } });
    const decision = await guard.check("alice");
    expect(decision.allowed).toBe(false);
    expect(decision.exceeded[0]).toMatchObject({ limitId: "env:daily-tokens", used: 150, limit: 100, remaining: 0 });
    const off = createBudgetGuard(monitor, { env: { ...env, USAGE_TRACKING_ENABLED: "false" } });
    expect(await off.check("alice")).toEqual({ allowed: true, exceeded: [], warnings: [] });
  });

  // How fast a check is belongs to the benchmark (bench/budget.ts); what is tested here is why
  // it is fast: once a window is seeded, checks read no store at all.
  it("reads the store once per window, then never again for checks", async () => {
    const clock = new TestClock(Date.parse("2026-02-10T12:00:00Z"));
    const { monitor, guard } = setup(clock);
    await guard.setLimit({ scope: "global", metric: "cost", amount: 100, mode: "block" });
    await guard.setLimit({ scope: "user:*", metric: "tokens", amount: 1_000_000, mode: "block" });
    await guard.setLimit({ scope: "global", metric: "tokens", amount: 1_000_000, period: { rollingHours: 24 } });
    await monitor.trackUsage(usage("alice", 1000, "2026-02-10T11:00:00Z"));
    await monitor.flush();
    expect((await guard.check("alice")).allowed).toBe(true);
    let reads = 0;
    const aggregate = monitor.store.aggregate.bind(monitor.store);
    monitor.store.aggregate = (query) => {
      reads++;
      return aggregate(query);
    };
    for (let i = 0; i < 20_000; i++) expect((await guard.check("alice")).allowed).toBe(true);
    expect(reads).toBe(0);
    // A new window (the next day) is seeded from the store once.
    clock.advance(24 * 3_600_000);
    await guard.check("alice");
    await guard.check("alice");
    expect(reads).toBeGreaterThan(0);
    const afterSeeding = reads;
    for (let i = 0; i < 1000; i++) await guard.check("alice");
    expect(reads).toBe(afterSeeding);
  });
});

describe("BudgetGuard alerts", () => {
  it("fires one alert per threshold per period, and not again after a restart", async () => {
    const clock = new TestClock(Date.parse("2026-04-10T12:00:00Z"));
    const first = setup(clock);
    await first.guard.setLimit({ id: "daily", scope: "global", metric: "tokens", amount: 1000 });
    await first.guard.check("alice");
    await first.monitor.trackUsage(usage("alice", 850, "2026-04-10T12:00:00Z"));
    await first.monitor.flush();
    await first.monitor.trackUsage(usage("alice", 10, "2026-04-10T12:00:01Z"));
    await first.monitor.flush();
    await first.guard.flushAlerts();
    expect(first.alerts.map((a) => [a.threshold, a.level, a.used])).toEqual([[0.8, "warning", 850]]);
    await first.monitor.close();

    const second = setup(clock, {}, first.path);
    expect((await second.guard.getBudgetStatus())[0].used).toBe(860);
    await second.guard.flushAlerts();
    expect(second.alerts).toEqual([]); // 80% was already announced this period
    await second.monitor.trackUsage(usage("alice", 200, "2026-04-10T12:05:00Z"));
    await second.monitor.flush();
    await second.monitor.trackUsage(usage("alice", 200, "2026-04-10T12:06:00Z"));
    await second.monitor.flush();
    await second.guard.flushAlerts();
    expect(second.alerts.map((a) => a.threshold)).toEqual([0.95, 1]);
    expect(second.alerts[1]).toMatchObject({ limitId: "daily", level: "exceeded", windowStart: "2026-04-10T00:00:00.000Z", resetsAt: "2026-04-11T00:00:00.000Z" });

    // Next day: a new period, so the thresholds fire again.
    clock.set("2026-04-11T08:00:00Z");
    await second.guard.check("alice");
    await second.monitor.trackUsage(usage("alice", 900, "2026-04-11T08:00:00Z"));
    await second.monitor.flush();
    await second.guard.flushAlerts();
    expect(second.alerts.map((a) => [a.threshold, a.windowStart])).toEqual([
      [0.95, "2026-04-10T00:00:00.000Z"],
      [1, "2026-04-10T00:00:00.000Z"],
      [0.8, "2026-04-11T00:00:00.000Z"],
    ]);
  });
});

describe("BudgetGuard refusals and rollover", () => {
  it("a refusal names used, in-flight holds and the call's estimate, and alerts once per window", async () => {
    const clock = new TestClock(Date.parse("2026-05-10T12:00:00Z"));
    const { guard, alerts } = setup(clock);
    await guard.setLimit({ id: "tiny", scope: "user:*", metric: "tokens", amount: 30, mode: "block" });
    await guard.reserve({ runId: "a", userId: "zoe", estimate: { tokens: 20, costNanos: 0 }, estimateBasis: "basis A" });
    const error = await guard
      .reserve({ runId: "b", userId: "zoe", estimate: { tokens: 20, costNanos: 0 }, estimateBasis: "16 prompt tokens + max_tokens 4" })
      .catch((e) => e);
    expect(error.details).toMatchObject({ limitId: "tiny", scope: "user:zoe", used: 0, inFlight: 20, remaining: 10, estimate: 20, estimateBasis: "16 prompt tokens + max_tokens 4" });
    expect(error.message).toMatch(/used 0 of 30 tokens, 20 held by calls in flight, 10 left; this call needs 20 \(estimate: 16 prompt tokens \+ max_tokens 4\)/);
    expect(error.message).toMatch(/raise the limit/);
    await guard.reserve({ runId: "c", userId: "zoe", estimate: { tokens: 20, costNanos: 0 } }).catch(() => undefined);
    await guard.flushAlerts();
    expect(alerts.map((a) => [a.level, a.subjectScope, a.fractionUsed])).toEqual([["refused", "user:zoe", 0]]);
    const [status] = await guard.getBudgetStatus("zoe");
    expect(status).toMatchObject({ used: 0, inFlight: 20, remaining: 10, fractionUsed: 0, state: "ok" });
  });

  it("a user's window is released when it ends: the next day keeps only the users seen that day", async () => {
    const clock = new TestClock(Date.parse("2026-05-10T12:00:00Z"));
    const { guard } = setup(clock);
    await guard.setLimit({ id: "per-user", scope: "user:*", metric: "tokens", amount: 1_000_000, mode: "block" });
    for (let i = 0; i < 200; i++) {
      await guard.reserve({ runId: `r${i}`, userId: `u${i}`, estimate: { tokens: 10, costNanos: 0 } });
      guard.settle(`r${i}`, { tokens: 10, costNanos: 0 });
    }
    const index = (guard as unknown as { tallies: { size: number } }).tallies;
    expect(index.size).toBe(200);
    clock.set("2026-05-11T00:00:01Z");
    await guard.reserve({ runId: "next", userId: "u0", estimate: { tokens: 10, costNanos: 0 } });
    expect(index.size).toBe(1);
    // The ended window's usage still reached its counter.
    clock.set("2026-05-10T23:00:00Z");
    expect((await guard.getBudgetStatus("u7"))[0]).toMatchObject({ used: 10 });
  });
});

describe("BudgetGuard shared across guards", () => {
  it("two guards on one file share the counter: admitted spend stays within the limit plus the overshoot of calls in flight", async () => {
    const clock = new TestClock(Date.parse("2026-06-10T12:00:00Z"));
    const a = setup(clock);
    const b = setup(clock, {}, a.path);
    await a.guard.setLimit({ id: "shared", scope: "global", metric: "tokens", amount: 100, mode: "block" });
    await b.guard.refreshLimits();
    // Each call is estimated at 10 tokens and uses 15: the bound allows 5 per call in flight.
    let n = 0;
    const call = async (g: typeof a.guard, i: number): Promise<number> => {
      const runId = `${g === a.guard ? "a" : "b"}${i}`;
      try {
        await g.reserve({ runId, userId: `u${i % 3}`, estimate: { tokens: 10, costNanos: 0 } });
      } catch {
        return 0;
      }
      await new Promise((r) => setTimeout(r, 5));
      g.settle(runId, { tokens: 15, costNanos: 0 });
      n++;
      return 15;
    };
    const spent = (await Promise.all(Array.from({ length: 30 }, (_, i) => call(i % 2 ? a.guard : b.guard, i)))).reduce((x, y) => x + y, 0);
    console.log(`[budgets] two guards: ${n} calls admitted, ${spent} tokens spent`);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(10);
    expect(spent).toBeLessThanOrEqual(100 + 5 * n);
    await a.guard.flushUsage();
    await b.guard.flushUsage();
    // Both read the same counter.
    const [sa] = await a.guard.getBudgetStatus();
    const [sb] = await b.guard.getBudgetStatus();
    expect(sa.used).toBe(spent);
    expect(sb.used).toBe(spent);
    // Leases may leave a little room stranded in the other guard for a while (README), never more than the limit.
    expect(n).toBeGreaterThanOrEqual(7);
  });
});
