/**
 * Lease expiry on Cosmos DB does not trust host clocks: the counter judges leases by the
 * service's time (the `Date` of the answer to its read), so a process whose clock is
 * minutes off neither takes room another process's live lease holds, nor leaves a lease
 * that outlives it. Guards with injected clocks (skewed by minutes) on the extended local
 * server, with real `@azure/cosmos` clients; the server's clock is set by the test, so
 * the day's window and the lease times do not depend on when the test runs.
 *
 * Limit: 1,000 tokens a day per user, block mode. A lease is the estimate plus a quarter
 * of the rest of what is free.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBudgetedMonitor } from "../../src/budget/index.js";
import { BudgetExceededError } from "../../src/errors.js";
import { startLocalCosmos, type LocalCosmos } from "../support/cosmos-server.js";
import { startTcpSwitch } from "../faults/support/tcp-switch.js";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const MIN = 60_000;
/** Noon UTC of a fixed day: the server's time when each test starts. */
const T = Date.parse("2031-05-14T12:00:00Z");
const LIMIT = { id: "user-daily", scope: "user:*", metric: "tokens", amount: 1000, period: "day", mode: "block" } as const;

let local: LocalCosmos;
beforeAll(async () => {
  local = await startLocalCosmos();
});
afterAll(async () => {
  await local?.close();
});

/** A process's guard whose clock is the server's time plus `skew` (movable with `advance`). */
function process_(containerId: string, skew: number, endpoint?: string) {
  let offset = local.clock.now() - Date.now() + skew;
  const m = createBudgetedMonitor({
    env: {},
    logger: quiet,
    store: "cosmos",
    cosmos: { client: local.client(endpoint), databaseId: local.databaseId, containerId, createIfMissing: true, baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 },
    // No background ticks during the test: every round trip is one the test causes.
    budget: { logger: quiet, reportIntervalMs: 60_000, now: () => new Date(Date.now() + offset) },
  });
  let run = 0;
  return {
    ...m,
    advance(ms: number) {
      offset += ms;
    },
    /** Reserves `tokens` for user u1: true if admitted, false if refused by the limit. */
    async reserve(tokens: number): Promise<boolean> {
      try {
        await m.guard.reserve({ runId: `run-${skew}-${run++}`, userId: "u1", estimate: { tokens, costNanos: 0 } });
        return true;
      } catch (error) {
        if (error instanceof BudgetExceededError) return false;
        throw error;
      }
    },
    async close() {
      await m.guard.close();
      await m.monitor.close();
    },
  };
}

describe("Cosmos budget leases judged by the service's clock", () => {
  it("a process minutes ahead does not take the room of another process's live lease", async () => {
    local.clock.set(T);
    const containerId = local.uniqueContainerId("skew");
    const a = process_(containerId, 0);
    const ahead = process_(containerId, 5 * MIN);
    try {
      await a.guard.setLimit(LIMIT);
      // A: 100 needed, plus a quarter of the other 900: a lease of 325.
      expect(await a.reserve(100)).toBe(true);
      // 675 is free beside A's lease. Judged by its own clock, A's lease would look 4.5 minutes dead.
      expect(await ahead.reserve(700)).toBe(false);
      expect(await ahead.reserve(600)).toBe(true);
      const [mid] = await a.monitor.store.readBudgetCounters([{ key: `${LIMIT.id}|u1|${Date.parse("2031-05-14T00:00:00Z")}`, partition: "u1" }], 0);
      expect(mid!.leased).toBeLessThanOrEqual(1000);
      expect(mid!.leased).toBe(325 + 600 + Math.floor(75 / 4));
    } finally {
      await Promise.all([a.close(), ahead.close()]);
    }
  });

  it("a lease written by a process minutes behind is not lapsed early by the others", async () => {
    local.clock.set(T);
    const containerId = local.uniqueContainerId("skew-behind");
    const a = process_(containerId, 0);
    const behind = process_(containerId, -5 * MIN);
    try {
      await a.guard.setLimit(LIMIT);
      // Behind: 300 plus a quarter of 700, a lease of 475 that ends (by its clock) 4.5 minutes ago.
      expect(await behind.reserve(300)).toBe(true);
      expect(await a.reserve(600)).toBe(false);
      expect(await a.reserve(500)).toBe(true);
    } finally {
      await Promise.all([a.close(), behind.close()]);
    }
  });

  it("the lease of a dead process whose clock was an hour ahead lapses 30 s after its last report", async () => {
    local.clock.set(T);
    const containerId = local.uniqueContainerId("skew-dead");
    const sw = await startTcpSwitch(local.endpoint);
    const a = process_(containerId, 0);
    const dead = process_(containerId, 60 * MIN, sw.endpoint);
    try {
      await a.guard.setLimit(LIMIT);
      // A lease of 475, then the process is cut off (it never reports or gives it back).
      expect(await dead.reserve(300)).toBe(true);
      await sw.off();
      expect(await a.reserve(600)).toBe(false);
      // 40 s later by the service's clock (and A's), the dead lease has lapsed; it would
      // still look live for an hour by the dead process's clock.
      local.clock.set(local.clock.now() + 40_000);
      a.advance(40_000);
      expect(await a.reserve(600)).toBe(true);
    } finally {
      await sw.on();
      await Promise.all([a.close(), dead.close()]);
      await sw.close();
    }
  });
});
