/**
 * A call is counted by its guard when it settles, and its stored record is matched to
 * that settle by id (`observe`), so each call counts once. The record can reach the
 * store before the call settles (a reservation settled by hand after `monitor.flush()`),
 * or long after (records held in the journal through a store outage and replayed):
 * either way the counter must hold the call once.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createBudgetedMonitor } from "../../src/budget/budgeted-monitor.js";
import { CountedCalls } from "../../src/budget/counted-calls.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { quietLogger, startFixture } from "../faults/support/children.js";
import { budgeted, tempDbPath, TestClock } from "./support.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const TOKENS = { id: "user-tokens", scope: "user:*", metric: "tokens", amount: 1_000_000, period: "day", mode: "block" } as const;
const REQUESTS = { id: "user-requests", scope: "user:*", metric: "requests", amount: 1_000, period: "day", mode: "block" } as const;
const COST = { id: "user-cost", scope: "user:*", metric: "cost", amount: 100, period: "day", mode: "block" } as const;

async function setUp() {
  const db = tempDbPath();
  const clock = new TestClock(Date.now());
  const { monitor, guard } = budgeted(db.path, { now: clock.now });
  cleanups.push(db.cleanup, () => monitor.close());
  for (const limit of [TOKENS, REQUESTS, COST]) await guard.setLimit(limit);
  const used = async (user: string) => {
    await guard.flushUsage();
    const status = await guard.getBudgetStatus(user);
    return Object.fromEntries(status.map((s) => [s.limitId, s.used]));
  };
  return { monitor, guard, clock, used };
}

const call = (id: string, userId: string, at: Date) => ({ id, runId: id, userId, provider: "openai", model: "gpt-4o-mini", inputTokens: 5, outputTokens: 20, timestamp: at.toISOString() });

describe("a call's settle and its stored record", () => {
  it("count the call once when the record is stored before the call settles", async () => {
    const { monitor, guard, clock, used } = await setUp();
    const id = randomUUID();
    await guard.reserve({ runId: id, userId: "erin", estimate: { tokens: 500, costNanos: 0 } });
    const record = await monitor.trackUsage(call(id, "erin", clock.now()));
    await monitor.flush();
    guard.settle(id, { tokens: record.totalTokens, costNanos: record.totalCostNanos });
    const u = await used("erin");
    expect(u[TOKENS.id]).toBe(25);
    expect(u[REQUESTS.id]).toBe(1);
    expect(u[COST.id]).toBeCloseTo(record.totalCost, 9);
  });

  it("count a call that used nothing as one request, not two", async () => {
    const { monitor, guard, clock, used } = await setUp();
    const id = randomUUID();
    await guard.reserve({ runId: id, userId: "gail", estimate: { tokens: 500, costNanos: 0 } });
    guard.settle(id, { tokens: 0, costNanos: 0 });
    await monitor.trackUsage({ ...call(id, "gail", clock.now()), inputTokens: 0, outputTokens: 0 });
    await monitor.flush();
    const u = await used("gail");
    expect(u[REQUESTS.id]).toBe(1);
    expect(u[TOKENS.id]).toBe(0);
  });

  it("count the call once when its record waits out a store outage longer than the settled calls are kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "settle-order-"));
    const path = join(dir, "usage.db");
    const clock = new TestClock(Date.now());
    const { monitor, guard } = createBudgetedMonitor({
      store: new SqliteUsageStore({ path, busyTimeoutMs: 50 }),
      writer: { flushIntervalMs: 5, retryDelayMs: 20, maxRetryDelayMs: 100, spillDir: join(dir, "spill") },
      logger: quietLogger,
      budget: { now: clock.now, logger: quietLogger },
    });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => monitor.close());
    await guard.setLimit(TOKENS);
    await guard.setLimit(REQUESTS);
    const id = randomUUID();
    const at = clock.now();
    await guard.reserve({ runId: id, userId: "fred", estimate: { tokens: 500, costNanos: 0 } });
    guard.settle(id, { tokens: 25, costNanos: 0 });
    await guard.flushUsage();

    // Another process holds the write lock: the record cannot be stored.
    const holder = startFixture("hold-lock.ts", [path, "1500"]);
    await holder.waitFor(/^locked$/);
    await monitor.trackUsage(call(id, "fred", at));
    await vi.waitFor(() => expect(monitor.writer.holdingBack).toBe(true), { timeout: 1000, interval: 5 });
    // Half an hour later by the guard's clock its maintenance runs, the record still held.
    clock.advance(30 * 60_000);
    (guard as unknown as { maintain(): void }).maintain();
    await holder.waitFor(/^released$/);
    await monitor.flush();
    await guard.flushUsage();
    const status = Object.fromEntries((await guard.getBudgetStatus("fred")).map((s) => [s.limitId, s.used]));
    expect(status[TOKENS.id]).toBe(25);
    expect(status[REQUESTS.id]).toBe(1);
  });
});

describe("CountedCalls", () => {
  it("keeps at most its bound, forgetting the oldest first, and expires in arrival order", () => {
    const book = new CountedCalls(3);
    for (let i = 0; i < 5; i++) book.add(`c${i}`, { by: "settle", tokens: i, costNanos: 0, at: 1000 + i });
    expect(book.size).toBe(3);
    expect(book.forgotten).toBe(2);
    expect(book.take("c0", "settle")).toBeUndefined();
    expect(book.take("c2", "record")).toBeUndefined(); // counted by the other path: left alone
    expect(book.expire(1004)).toBe(2);
    expect(book.take("c4", "settle")?.tokens).toBe(4);
    expect(book.size).toBe(0);
  });
});
