/**
 * A seeded monitor on a real in-memory SQLite store, and the keys to reach it:
 * the admin key, a key for alice and a key for bob.
 */
import type { FastifyInstance } from "fastify";
import { createTokenMonitor, type TokenMonitoringService } from "../../src/monitor/token-monitor.js";
import type { UsageRecord } from "../../src/record/types.js";
import type { UsageInput } from "../../src/record/build-record.js";
import { createApiKey } from "../../src/server/auth/api-keys.js";
import { buildApp, type BuildAppOptions } from "../../src/server/build-app.js";
import type { BudgetApi } from "../../src/server/types.js";

export const ADMIN_KEY = "admin-key-for-tests-0123456789";
const HOUR = 3_600_000;

export interface Seeded {
  monitor: TokenMonitoringService;
  records: UsageRecord[];
  aliceKey: string;
  bobKey: string;
  aliceKeyId: string;
}

/** Records a few hours and days back from now, so the default 30-day range holds them all. */
export function seedInputs(now = Date.now()): UsageInput[] {
  const at = (hoursAgo: number) => new Date(now - hoursAgo * HOUR).toISOString();
  return [
    { id: "a1", userId: "alice", threadId: "thread-a1", agentName: "researcher", provider: "openai", model: "gpt-4o", inputTokens: 1000, outputTokens: 500, timestamp: at(2), dimensions: { tenant: "acme" } },
    { id: "a2", userId: "alice", threadId: "thread-a1", agentName: "writer", provider: "openai", model: "gpt-4o-mini", inputTokens: 2000, outputTokens: 100, timestamp: at(30), dimensions: { tenant: "acme" } },
    { id: "a3", userId: "alice", threadId: "thread-a2", agentName: "researcher", provider: "anthropic", model: "claude-3-5-haiku-20241022", inputTokens: 300, outputTokens: 300, timestamp: at(24 * 10) },
    { id: "b1", userId: "bob", threadId: "thread-b1", agentName: "writer", provider: "openai", model: "gpt-4o", inputTokens: 5000, outputTokens: 2000, timestamp: at(5), dimensions: { tenant: "globex" } },
    { id: "b2", userId: "bob", threadId: "thread-b1", provider: "google", model: "gemini-2.0-flash", inputTokens: 800, outputTokens: 80, timestamp: at(24 * 3) },
  ];
}

export async function seed(inputs: UsageInput[] = seedInputs()): Promise<Seeded> {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", env: {} });
  const records: UsageRecord[] = [];
  for (const input of inputs) records.push(await monitor.trackUsage(input));
  await monitor.flush();
  const alice = await createApiKey(monitor.store, { userId: "alice" });
  const bob = await createApiKey(monitor.store, { userId: "bob" });
  return { monitor, records, aliceKey: alice.key, bobKey: bob.key, aliceKeyId: alice.info.keyId };
}

export function app(seeded: Seeded, options: Partial<BuildAppOptions> = {}): Promise<FastifyInstance> {
  return buildApp({ monitor: seeded.monitor, adminKey: ADMIN_KEY, env: {}, ...options });
}

export function sumCost(records: UsageRecord[]): number {
  return records.reduce((n, r) => n + r.totalCostNanos, 0);
}

/**
 * A budget guard stand-in with exactly the management surface the server uses,
 * kept in the store's settings. The real guard is built in `src/budget/`; these
 * tests check the routes' wiring and authorization, not budget arithmetic.
 */
export function settingsBudget(monitor: TokenMonitoringService): BudgetApi & { calls: string[] } {
  const calls: string[] = [];
  const ns = "test-budget-limits";
  return {
    calls,
    async setLimit(limit: Record<string, unknown> & { id: string }) {
      calls.push(`set:${limit.id}`);
      await monitor.store.putSetting(ns, limit.id, limit);
      return limit;
    },
    async removeLimit(id: string) {
      calls.push(`remove:${id}`);
      return monitor.store.deleteSetting(ns, id);
    },
    async listLimits() {
      return (await monitor.store.listSettings(ns)).map((e) => e.value);
    },
    async getBudgetStatus(userId: string) {
      calls.push(`status:${userId}`);
      const usage = await monitor.getUserUsage(userId, { days: 1 });
      const limits = (await monitor.store.listSettings<{ id: string; amount: number }>(ns)).map((e) => e.value);
      return { userId, limits: limits.map((l) => ({ limitId: l.id, metric: "tokens", limit: l.amount, used: usage.totalTokens })) };
    },
  };
}
