/**
 * The routes the dashboard's manager views added: the shared budget limits' status
 * (a real BudgetGuard over a real SQLite store) and latency percentiles with error
 * rates per model, read from a bounded sample of the newest records.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { createBudgetGuard } from "../../src/budget/index.js";
import type { UsageInput } from "../../src/record/build-record.js";
import { ADMIN_KEY, app, seed, type Seeded } from "./support.js";

const MINUTE = 60_000;
const admin = { "x-api-key": ADMIN_KEY };
let seeded: Seeded;
let server: FastifyInstance;
let guard: ReturnType<typeof createBudgetGuard>;

/** 100 timed gpt-4o calls for alice (latency 1..100 ms, every 20th an error), 3 untimed, 2 gpt-4o-mini calls for bob. */
function inputs(now: number): UsageInput[] {
  const out: UsageInput[] = [];
  for (let i = 1; i <= 100; i++) {
    out.push({ id: `t${i}`, userId: "alice", threadId: "ta", provider: "openai", model: "gpt-4o", inputTokens: 10, outputTokens: 5, latencyMs: i, error: i % 20 === 0, timestamp: new Date(now - i * MINUTE).toISOString() });
  }
  for (let i = 1; i <= 3; i++) out.push({ id: `u${i}`, userId: "alice", provider: "openai", model: "gpt-4o", inputTokens: 10, outputTokens: 5, timestamp: new Date(now - (200 + i) * MINUTE).toISOString() });
  out.push({ id: "b1", userId: "bob", provider: "openai", model: "gpt-4o-mini", inputTokens: 7, outputTokens: 3, latencyMs: 40, timestamp: new Date(now - 30 * MINUTE).toISOString() });
  out.push({ id: "b2", userId: "bob", provider: "openai", model: "gpt-4o-mini", inputTokens: 7, outputTokens: 3, latencyMs: 60, error: true, timestamp: new Date(now - 31 * MINUTE).toISOString() });
  return out;
}

beforeAll(async () => {
  seeded = await seed(inputs(Date.now()));
  guard = createBudgetGuard(seeded.monitor, {
    env: {},
    limits: [
      { scope: "global", metric: "tokens", amount: 50_000, period: "month" },
      { scope: "user:alice", metric: "cost", amount: 2, period: "month" },
    ],
  });
  server = await app(seeded, { budget: guard });
});

afterAll(async () => {
  await server?.close();
  guard?.close();
  await seeded?.monitor.close();
});

describe("GET /budgets/status", () => {
  it("answers the shared limits only, with the usage of their period, to the admin key", async () => {
    const res = await server.inject({ url: "/budgets/status", headers: admin });
    expect(res.statusCode).toBe(200);
    const statuses = res.json() as Array<{ limitId: string; limit: number; used: number; periodStart: string }>;
    expect(statuses.map((s) => s.limitId)).toEqual(["global:tokens:month"]);
    const since = Date.parse(statuses[0]!.periodStart);
    const expected = seeded.records.filter((r) => Date.parse(r.timestamp) >= since).reduce((n, r) => n + r.totalTokens, 0);
    expect(expected).toBeGreaterThan(0);
    expect(statuses[0]).toMatchObject({ limit: 50_000, used: expected });
  });

  it("refuses a user key and unknown parameters", async () => {
    expect((await server.inject({ url: "/budgets/status", headers: { "x-api-key": seeded.aliceKey } })).statusCode).toBe(403);
    const bad = await server.inject({ url: "/budgets/status?userId=alice", headers: admin });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/userId/);
  });
});

describe("GET /token-usage/latency-by-model", () => {
  it("gives nearest-rank p50/p95 and the error rate per model", async () => {
    const res = await server.inject({ url: "/token-usage/latency-by-model", headers: admin });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ sampled: 105, truncated: false });
    expect(body.models).toEqual([
      { model: "gpt-4o", provider: "openai", requests: 103, errors: 5, errorRate: 5 / 103, timedRequests: 100, p50Ms: 50, p95Ms: 95, maxMs: 100 },
      { model: "gpt-4o-mini", provider: "openai", requests: 2, errors: 1, errorRate: 0.5, timedRequests: 2, p50Ms: 40, p95Ms: 60, maxMs: 60 },
    ]);
  });

  it("reads at most maxRecords, newest first, and says so", async () => {
    const body = (await server.inject({ url: "/token-usage/latency-by-model?maxRecords=10", headers: admin })).json();
    const newest = [...seeded.records].sort((a, b) => b.timestamp.localeCompare(a.timestamp)).slice(0, 10);
    expect(body.sampled).toBe(10);
    expect(body.truncated).toBe(true);
    expect(body.oldestSampled).toBe(newest[9]!.timestamp);
    expect(body.models.reduce((n: number, m: { requests: number }) => n + m.requests, 0)).toBe(10);
  });

  it("keeps a user key to its own calls and rejects bad parameters", async () => {
    const bob = (await server.inject({ url: "/token-usage/latency-by-model", headers: { "x-api-key": seeded.bobKey } })).json();
    expect(bob.models.map((m: { model: string }) => m.model)).toEqual(["gpt-4o-mini"]);
    for (const query of ["maxRecords=0", "maxRecords=20001", "model=gpt-4o"]) {
      const res = await server.inject({ url: `/token-usage/latency-by-model?${query}`, headers: admin });
      expect(res.statusCode, query).toBe(400);
    }
  });
});
