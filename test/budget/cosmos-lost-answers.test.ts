/**
 * A budget report is applied once even when its answer is lost, on the extended local
 * Cosmos server with a real `@azure/cosmos` client. The server applies the counter's
 * replace (or create) and then answers 503 or 408, or closes the connection: the store
 * retries, gets 412 (the etag moved), reads the counter again and must recognise the
 * report it already applied. Checked twice: with the store alone (reports numbered as a
 * guard numbers them), and through a budget guard whose store call fails outright after
 * the write happened (the guard resends the same report later). Records too: a batch of
 * records applied with its answer lost is counted as inserted by the append that stored
 * it (within its retries, or when the writer sends it again), so the budget guard, which
 * counts the records of calls it never saw from what the writer inserted, counts them once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBudgetedMonitor } from "../../src/budget/index.js";
import { CosmosUsageStore } from "../../src/stores/cosmos/index.js";
import type { BudgetCounterUpdate } from "../../src/stores/types.js";
import { seededRandom } from "../contract/make-record.js";
import { startLocalCosmos, type FaultSpec, type LocalCosmos } from "../support/cosmos-server.js";
import { importCosmosSdk } from "../support/cosmos-sdk.js";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let local: LocalCosmos;
beforeAll(async () => {
  local = await startLocalCosmos();
});
afterAll(async () => {
  await local?.close();
});

function storeOn(containerId: string) {
  return new CosmosUsageStore({ client: local.client(), databaseId: local.databaseId, containerId, baseDelayMs: 2, maxDelayMs: 20 }, importCosmosSdk);
}

const LOST: FaultSpec[] = [
  { status: 503, afterApplying: true },
  { status: 408, afterApplying: true },
  { status: 503, afterApplying: true, dropConnection: true },
];

describe("Cosmos budget counters: lost answers", () => {
  it("counts every report exactly once when the service applies a write and the answer is lost", async () => {
    const store = storeOn(local.uniqueContainerId("lost"));
    const random = seededRandom(13);
    const key = "daily|alice|1";
    const base = (seq: number, spent: number): BudgetCounterUpdate => {
      const now = Date.now();
      return { key, partition: "alice", expiresAt: now + 3_600_000, limit: 1_000_000, seed: 500, holder: "p1.0", spent, inFlight: 0, want: 0, need: 0, keep: 0, leaseUntil: now + 30_000, now, seq };
    };
    try {
      // The creating report's answer is lost too: the retry's 409 leads to a read that finds it.
      local.faults.failNext("create", 1, LOST[0]);
      const [first] = await store.updateBudgetCounters([base(1, 7)]);
      expect(first).toMatchObject({ used: 507, created: true });
      let sum = 507;
      let injected = 1;
      for (let seq = 2; seq <= 40; seq++) {
        const spent = 1 + Math.floor(random() * 50);
        sum += spent;
        if (seq % 2 === 0) {
          local.faults.failNext("replace", 1, LOST[seq % LOST.length]);
          injected++;
        }
        const [state] = await store.updateBudgetCounters([base(seq, spent)]);
        expect(state.used).toBe(sum);
      }
      expect(local.faults.remaining).toBe(0);
      expect(local.ops.faulted).toBeGreaterThanOrEqual(injected);
      const [read] = await store.readBudgetCounters([{ key, partition: "alice" }], Date.now());
      expect(read!.used).toBe(sum);
    } finally {
      local.faults.clear();
      await store.close();
    }
  });

  it("a guard whose report failed after the write resends it, and the counter still equals the usage settled", async () => {
    const containerId = local.uniqueContainerId("lost-guard");
    const make = () =>
      createBudgetedMonitor({
        env: {},
        logger: quiet,
        store: "cosmos",
        cosmos: { client: local.client(), databaseId: local.databaseId, containerId, createIfMissing: true, baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 3 },
        budget: { logger: quiet, reportIntervalMs: 60_000 },
      });
    const { monitor, guard } = make();
    const reader = make();
    try {
      await guard.setLimit({ id: "user-daily", scope: "user:*", metric: "tokens", amount: 1_000_000, period: "day", mode: "block" });
      const random = seededRandom(7);
      let sum = 0;
      for (let round = 0; round < 12; round++) {
        for (let i = 0; i < 3; i++) {
          const runId = `r-${round}-${i}`;
          const tokens = 10 + Math.floor(random() * 90);
          sum += tokens;
          await guard.reserve({ runId, userId: "bob", estimate: { tokens: 100, costNanos: 0 } });
          guard.settle(runId, { tokens, costNanos: 0 });
        }
        if (round % 3 === 1) {
          // Every attempt of this report is applied or refused (412) and its answer lost: the
          // store call fails, and the guard does not know whether its usage was counted.
          local.faults.failNext("replace", 3, LOST[round % LOST.length]);
          await guard.flushUsage();
          expect(local.faults.remaining).toBe(0);
        }
        await guard.flushUsage();
      }
      await guard.flushUsage();
      const [status] = (await reader.guard.getBudgetStatus("bob")).filter((s) => s.limitId === "user-daily");
      expect(status.used).toBe(sum);
    } finally {
      local.faults.clear();
      await guard.close();
      await monitor.close();
      await reader.guard.close();
      await reader.monitor.close();
    }
  });

  it("records of calls no guard saw count once when their write was applied and its answer lost", async () => {
    const { monitor, guard } = createBudgetedMonitor({
      env: {},
      logger: quiet,
      store: "cosmos",
      cosmos: { client: local.client(), databaseId: local.databaseId, containerId: local.uniqueContainerId("lost-records"), createIfMissing: true, baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 2 },
      writer: { retryDelayMs: 5, maxRetryDelayMs: 10 },
      budget: { logger: quiet },
    });
    try {
      await guard.setLimit({ id: "user-daily", scope: "user:*", metric: "tokens", amount: 1_000_000, period: "day", mode: "block" });
      let sum = 0;
      for (let round = 0; round < LOST.length + 2; round++) {
        for (let i = 0; i < 3; i++) {
          const record = await monitor.trackUsage({ userId: "carol", provider: "openai", model: "gpt-4o-mini", inputTokens: 10 + round, outputTokens: i + 1 });
          sum += record.totalTokens;
        }
        // From the second round on (the shared counter exists, seeded from the first round's
        // records), the batch carrying the records and their rollups is applied; its answer is lost.
        if (round > 0 && round <= LOST.length) local.faults.failNext("batch", 1, LOST[round - 1]);
        // Last, the store gives up on the append after that (its second attempt refused too):
        // the writer sends the records again, and they are found stored.
        if (round === LOST.length + 1) {
          local.faults.failNext("batch", 1, LOST[0]);
          local.faults.failNext("batch", 1, { status: 503 });
        }
        await monitor.flush();
        expect(local.faults.remaining).toBe(0);
      }
      await guard.flushUsage();
      expect((await monitor.getUserUsage("carol", { days: 1 })).totalTokens).toBe(sum);
      const [status] = (await guard.getBudgetStatus("carol")).filter((s) => s.limitId === "user-daily");
      expect(status.used).toBe(sum);
    } finally {
      local.faults.clear();
      await guard.close();
      await monitor.close();
    }
  });

  it("says once when a report resent after more than 10 minutes without an answer may count twice", async () => {
    const warnings: string[] = [];
    const logger = { info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
    let offset = 0;
    const { monitor, guard } = createBudgetedMonitor({
      env: {},
      logger: quiet,
      store: "cosmos",
      cosmos: { client: local.client(), databaseId: local.databaseId, containerId: local.uniqueContainerId("lost-late"), createIfMissing: true, baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 2 },
      budget: { logger, reportIntervalMs: 60_000, now: () => new Date(Date.now() + offset) },
    });
    try {
      await guard.setLimit({ id: "user-daily", scope: "user:*", metric: "tokens", amount: 1_000_000, period: "day", mode: "block" });
      await guard.reserve({ runId: "r1", userId: "eve", estimate: { tokens: 10, costNanos: 0 } });
      guard.settle("r1", { tokens: 10, costNanos: 0 });
      local.faults.failNext("replace", 2, LOST[0]);
      await guard.flushUsage();
      const late = () => warnings.filter((w) => w.includes("counts twice"));
      expect(late()).toHaveLength(0);
      offset = 11 * 60_000;
      local.faults.failNext("replace", 2, LOST[0]);
      await guard.flushUsage();
      await guard.flushUsage();
      expect(late()).toHaveLength(1);
      expect(late()[0]).toContain("user-daily|eve");
    } finally {
      local.faults.clear();
      await guard.close();
      await monitor.close();
    }
  });
});
