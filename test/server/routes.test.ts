import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "csv-parse/sync";
import type { FastifyInstance } from "fastify";
import { EXPORT_COLUMNS } from "../../src/server/csv/record-columns.js";
import { ADMIN_KEY, app, seed, settingsBudget, sumCost, type Seeded } from "./support.js";

let seeded: Seeded;
let server: FastifyInstance;
const admin = { "x-api-key": ADMIN_KEY };

beforeAll(async () => {
  seeded = await seed();
  server = await app(seeded);
});
afterAll(async () => {
  await server.close();
  await seeded.monitor.close();
});

const get = (url: string, headers: Record<string, string> = admin) => server.inject({ method: "GET", url, headers });
const byUser = (u: string) => seeded.records.filter((r) => r.userId === u);

describe("usage routes (admin key)", () => {
  it("GET /token-usage/user/:userId sums exactly that user's records", async () => {
    const res = await get("/token-usage/user/alice");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.totalRequests).toBe(3);
    expect(body.totalTokens).toBe(1500 + 2100 + 600);
    expect(body.totalCostNanos).toBe(sumCost(byUser("alice")));
    expect(Object.keys(body.costByModel).sort()).toEqual(["claude-3-5-haiku-20241022", "gpt-4o", "gpt-4o-mini"]);
  });

  it("days narrows the range", async () => {
    const res = await get("/token-usage/user/alice?days=1");
    expect(res.json().totalRequests).toBe(1);
    expect(res.json().totalCostNanos).toBe(seeded.records.find((r) => r.id === "a1")!.totalCostNanos);
  });

  it("start/end select a window and timeZone shapes the trend", async () => {
    const a2 = seeded.records.find((r) => r.id === "a2")!;
    const start = new Date(Date.parse(a2.timestamp) - 60_000).toISOString();
    const end = new Date(Date.parse(a2.timestamp) + 60_000).toISOString();
    const res = await get(`/token-usage/user/alice?start=${start}&end=${end}&timeZone=Asia/Tokyo`);
    expect(res.statusCode).toBe(200);
    expect(res.json().totalRequests).toBe(1);
    expect(res.json().range.timeZone).toBe("Asia/Tokyo");
  });

  it("GET /token-usage/thread/:threadId covers the thread's whole life; unknown thread is 404", async () => {
    const res = await get("/token-usage/thread/thread-a1");
    expect(res.statusCode).toBe(200);
    expect(res.json().totalRequests).toBe(2);
    const missing = await get("/token-usage/thread/no-such-thread");
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: "NotFound", message: "thread not found" });
  });

  it("GET /token-usage/summary totals everyone, or one user with userId", async () => {
    expect((await get("/token-usage/summary")).json().totalCostNanos).toBe(sumCost(seeded.records));
    expect((await get("/token-usage/summary?userId=bob")).json().totalRequests).toBe(2);
  });

  it("GET /token-usage/all pages through every record once, newest first", async () => {
    const seen: string[] = [];
    let url = "/token-usage/all?limit=2";
    for (let i = 0; i < 10; i++) {
      const body = (await get(url)).json();
      seen.push(...body.records.map((r: { id: string }) => r.id));
      if (!body.cursor) break;
      url = `/token-usage/all?limit=2&cursor=${body.cursor}`;
    }
    const expected = [...seeded.records].sort((a, b) => b.timestamp.localeCompare(a.timestamp)).map((r) => r.id);
    expect(seen).toEqual(expected);
  });

  it("GET /token-usage/all filters by model, provider, agent and thread", async () => {
    const ids = async (q: string) => (await get(`/token-usage/all?${q}`)).json().records.map((r: { id: string }) => r.id).sort();
    expect(await ids("model=gpt-4o")).toEqual(["a1", "b1"]);
    expect(await ids("provider=google")).toEqual(["b2"]);
    expect(await ids("agentName=writer")).toEqual(["a2", "b1"]);
    expect(await ids("threadId=thread-a2")).toEqual(["a3"]);
    expect(await ids("userId=bob&model=gpt-4o")).toEqual(["b1"]);
  });

  it("GET /token-usage/by-model, by-agent, by-provider and by/:dimension group the seeded records", async () => {
    const byModel = (await get("/token-usage/by-model")).json();
    const gpt4o = byModel.find((m: { key: string }) => m.key === "gpt-4o");
    expect(gpt4o.totalRequests).toBe(2);
    expect(gpt4o.provider).toBe("openai");
    expect(gpt4o.totalCostNanos).toBe(sumCost(seeded.records.filter((r) => r.model === "gpt-4o")));
    const byAgent = (await get("/token-usage/by-agent")).json();
    expect(Object.fromEntries(byAgent.map((a: { key: string; totalRequests: number }) => [a.key, a.totalRequests]))).toEqual({ researcher: 2, writer: 2, "(none)": 1 });
    const byProvider = (await get("/token-usage/by-provider?userId=alice")).json();
    expect(byProvider.map((p: { key: string }) => p.key).sort()).toEqual(["anthropic", "openai"]);
    const byTenant = (await get("/token-usage/by/tenant")).json();
    expect(Object.fromEntries(byTenant.map((t: { key: string | null; totalRequests: number }) => [String(t.key), t.totalRequests]))).toEqual({ acme: 2, globex: 1, null: 2 });
  });

  it("GET /token-usage/trend buckets by day, week or month", async () => {
    const daily = (await get("/token-usage/trend?days=30")).json();
    expect(daily.length).toBeGreaterThanOrEqual(30);
    expect(daily.reduce((n: number, p: { costNanos: number }) => n + p.costNanos, 0)).toBe(sumCost(seeded.records));
    const monthly = (await get("/token-usage/trend?days=30&granularity=month&userId=alice")).json();
    expect(monthly.length).toBeLessThanOrEqual(2);
    expect(monthly.reduce((n: number, p: { requests: number }) => n + p.requests, 0)).toBe(3);
    const thread = (await get("/token-usage/trend?threadId=thread-b1&granularity=week")).json();
    expect(thread.reduce((n: number, p: { requests: number }) => n + p.requests, 0)).toBe(2);
  });

  it("GET /token-usage/top-threads and /top-users rank by cost", async () => {
    const threads = (await get("/token-usage/top-threads?limit=2")).json();
    expect(threads).toHaveLength(2);
    expect(threads[0]).toMatchObject({ key: "thread-b1", userId: "bob" });
    const users = (await get("/token-usage/top-users")).json();
    expect(users.map((u: { key: string }) => u.key)).toEqual(["bob", "alice"]);
    expect(users[0].totalCostNanos).toBe(sumCost(byUser("bob")));
  });

  it("GET /token-usage/report gathers the breakdowns", async () => {
    const report = (await get("/token-usage/report")).json();
    expect(report.overall.totalRequests).toBe(5);
    expect(report.topUsers).toHaveLength(2);
    expect(Object.keys(report).sort()).toEqual(["budget", "byAgent", "byModel", "byProvider", "overall", "topThreads", "topUsers"]);
    expect(Array.isArray(report.budget)).toBe(true);
  });

  it("GET /token-usage/whoami names the caller", async () => {
    expect((await get("/token-usage/whoami")).json()).toEqual({ role: "admin", userId: null });
    expect((await get("/token-usage/whoami", { authorization: `Bearer ${seeded.aliceKey}` })).json()).toEqual({ role: "user", userId: "alice" });
  });
});

describe("CSV export", () => {
  it("streams every matching record in the export columns", async () => {
    const res = await get("/token-usage/export.csv");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/csv/);
    expect(res.headers["content-disposition"]).toContain("attachment");
    const rows = parse(res.body, { columns: true }) as Array<Record<string, string>>;
    expect(Object.keys(rows[0])).toEqual([...EXPORT_COLUMNS]);
    expect(rows.map((r) => r.id).sort()).toEqual(seeded.records.map((r) => r.id).sort());
    const a1 = rows.find((r) => r.id === "a1")!;
    const rec = seeded.records.find((r) => r.id === "a1")!;
    expect(a1.total_cost_nanos).toBe(String(rec.totalCostNanos));
    expect(JSON.parse(a1.dimensions)).toEqual({ tenant: "acme" });
    expect(a1.thread_id).toBe("thread-a1");
  });

  it("pages through more records than one page holds, without a content-length", async () => {
    const big = await seed([]);
    const now = Date.now();
    const inputs = Array.from({ length: 2300 }, (_, i) => ({
      id: `bulk-${i}`,
      userId: i % 2 ? "alice" : "bob",
      provider: "openai",
      model: "gpt-4o-mini",
      inputTokens: 10 + i,
      outputTokens: 1,
      timestamp: new Date(now - (i + 1) * 1000).toISOString(),
    }));
    await big.monitor.importRecords(inputs);
    const bigApp = await app(big);
    try {
      const res = await bigApp.inject({ url: "/token-usage/export.csv", headers: admin });
      expect(res.headers["content-length"]).toBeUndefined();
      const rows = parse(res.body, { columns: true }) as Array<Record<string, string>>;
      expect(rows).toHaveLength(2300);
      expect(new Set(rows.map((r) => r.id)).size).toBe(2300);
      const aliceOnly = parse((await bigApp.inject({ url: "/token-usage/export.csv", headers: { "x-api-key": big.aliceKey } })).body, { columns: true }) as Array<Record<string, string>>;
      expect(aliceOnly).toHaveLength(1150);
      expect(aliceOnly.every((r) => r.user_id === "alice")).toBe(true);
    } finally {
      await bigApp.close();
      await big.monitor.close();
    }
  });

  it("a bad filter is a 400 before any CSV is sent", async () => {
    const res = await get("/token-usage/export.csv?start=yesterday-ish");
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: "ValidationError", field: "start" });
  });
});

describe("validation errors are 400 JSON naming the field", () => {
  const cases: Array<[string, RegExp]> = [
    ["/token-usage/summary?days=abc", /days/],
    ["/token-usage/summary?days=0", /days/],
    ["/token-usage/summary?days=99999", /days/],
    ["/token-usage/all?limit=0", /limit/],
    ["/token-usage/all?limit=1001", /limit/],
    ["/token-usage/all?limit=2.5", /limit/],
    ["/token-usage/summary?timeZone=Mars/Olympus", /timeZone/],
    ["/token-usage/summary?start=2026-02-01&end=2026-01-01", /start/],
    ["/token-usage/summary?end=not-a-date", /end/],
    ["/token-usage/trend?granularity=hour", /granularity/],
    ["/token-usage/by/bad%20name", /dimension/],
    [`/token-usage/user/${"x".repeat(1100)}`, /userId/],
  ];
  for (const [url, field] of cases) {
    it(url.slice(0, 70), async () => {
      const res = await get(url);
      expect(res.statusCode).toBe(400);
      const body = res.json();
      expect(body.error).toBe("ValidationError");
      expect(body.message).toMatch(field);
    });
  }

  it("a forged cursor is 400 InvalidCursor", async () => {
    for (const cursor of ["not*base64", Buffer.from('["x","y"]').toString("base64url"), Buffer.from("{}").toString("base64url")]) {
      const res = await get(`/token-usage/all?cursor=${encodeURIComponent(cursor)}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe("InvalidCursor");
    }
  });

  it("an unknown route is a 404 JSON error", async () => {
    const res = await get("/token-usage/nothing-here");
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toBe("NotFound");
  });
});

describe("recommendations", () => {
  it("answers with the service's recommendations", async () => {
    const res = await get("/token-usage/recommendations?days=30");
    expect(res.statusCode).toBe(200);
    expect(Array.isArray(res.json())).toBe(true);
  });

  it("is 501 with a clear message when the monitor has none", async () => {
    const monitor = Object.assign(Object.create(seeded.monitor), { getRecommendations: undefined });
    const without = await app(seeded, { monitor });
    try {
      const res = await without.inject({ url: "/token-usage/recommendations", headers: { "x-api-key": ADMIN_KEY } });
      expect(res.statusCode).toBe(501);
      expect(res.json()).toEqual({ error: "NotImplemented", message: expect.stringContaining("recommendations") });
    } finally {
      await without.close();
    }
  });

  it("forwards the range and the caller's user when the monitor has them", async () => {
    const calls: unknown[] = [];
    const monitor = Object.assign(Object.create(seeded.monitor), {
      getRecommendations: async (options: unknown) => {
        calls.push(options);
        return [{ kind: "switch-model", from: "gpt-4o", to: "gpt-4o-mini" }];
      },
    });
    const withRecs = await app(seeded, { monitor });
    try {
      const asAlice = await withRecs.inject({ url: "/token-usage/recommendations?days=7", headers: { "x-api-key": seeded.aliceKey } });
      expect(asAlice.statusCode).toBe(200);
      expect(asAlice.json()).toEqual([{ kind: "switch-model", from: "gpt-4o", to: "gpt-4o-mini" }]);
      expect(calls[0]).toEqual({ days: 7, userId: "alice" });
    } finally {
      await withRecs.close();
    }
  });
});

describe("budget routes", () => {
  it("answer 501 when no budget guard is configured", async () => {
    for (const [method, url] of [["GET", "/budgets"], ["PUT", "/budgets/x"], ["DELETE", "/budgets/x"], ["GET", "/budgets/status/alice"]] as const) {
      const res = await server.inject({ method, url, headers: admin, payload: method === "PUT" ? { scope: "global" } : undefined });
      expect(res.statusCode, `${method} ${url}`).toBe(501);
    }
  });

  it("set, list, status and delete through the guard", async () => {
    const budget = settingsBudget(seeded.monitor);
    const withBudget = await app(seeded, { budget });
    try {
      const put = await withBudget.inject({ method: "PUT", url: "/budgets/user:alice:tokens:day", headers: admin, payload: { scope: "user:alice", metric: "tokens", amount: 10000 } });
      expect(put.statusCode).toBe(200);
      expect(put.json().limit).toEqual({ id: "user:alice:tokens:day", scope: "user:alice", metric: "tokens", amount: 10000 });
      expect((await withBudget.inject({ url: "/budgets", headers: admin })).json().limits).toHaveLength(1);
      const status = await withBudget.inject({ url: "/budgets/status/alice", headers: { "x-api-key": seeded.aliceKey } });
      expect(status.json()).toEqual({ userId: "alice", limits: [{ limitId: "user:alice:tokens:day", metric: "tokens", limit: 10000, used: 1500 }] });
      expect((await withBudget.inject({ method: "DELETE", url: "/budgets/user:alice:tokens:day", headers: admin })).statusCode).toBe(200);
      expect((await withBudget.inject({ method: "DELETE", url: "/budgets/user:alice:tokens:day", headers: admin })).statusCode).toBe(404);
      expect(budget.calls).toEqual(["set:user:alice:tokens:day", "status:alice", "remove:user:alice:tokens:day", "remove:user:alice:tokens:day"]);
    } finally {
      await withBudget.close();
    }
  });

  it("rejects a body over the size limit with 413 and a non-object body with 400", async () => {
    const budget = settingsBudget(seeded.monitor);
    const small = await app(seeded, { budget, bodyLimit: 1024 });
    try {
      const big = await small.inject({ method: "PUT", url: "/budgets/big", headers: admin, payload: { scope: "global", note: "x".repeat(4096) } });
      expect(big.statusCode).toBe(413);
      expect(big.json().message).toMatch(/body/i);
      const wrong = await small.inject({ method: "PUT", url: "/budgets/big", headers: { ...admin, "content-type": "application/json" }, payload: "[1,2]" });
      expect(wrong.statusCode).toBe(400);
      expect(budget.calls).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

describe("health, docs and dashboard assets", () => {
  it("GET /health needs no key", async () => {
    const res = await server.inject({ url: "/health" });
    expect(res.json()).toEqual({ status: "ok", store: "sqlite" });
  });

  it("the OpenAPI document lists every route with its query parameters", async () => {
    const doc = (await server.inject({ url: "/docs/json" })).json();
    for (const path of ["/token-usage/user/{userId}", "/token-usage/thread/{threadId}", "/token-usage/all", "/token-usage/export.csv", "/token-usage/by-model", "/token-usage/by-agent", "/token-usage/by/{dimension}", "/token-usage/trend", "/token-usage/report", "/token-usage/recommendations", "/budgets", "/budgets/{limitId}", "/budgets/status", "/budgets/status/{userId}", "/token-usage/latency-by-model", "/health"]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    const params = doc.paths["/token-usage/all"].get.parameters.map((p: { name: string }) => p.name);
    expect(params).toEqual(expect.arrayContaining(["days", "start", "end", "timeZone", "limit", "cursor", "userId"]));
    expect(doc.components.securitySchemes.apiKey).toEqual({ type: "apiKey", in: "header", name: "x-api-key" });
    const ui = await server.inject({ url: "/docs" });
    expect([200, 302]).toContain(ui.statusCode);
  });

  it("serves the dashboard page, its script and Chart.js with a strict CSP", async () => {
    const page = await server.inject({ url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(page.body).toContain('<canvas id="trend-chart">');
    const script = await server.inject({ url: "/dashboard/app.js" });
    expect(() => new Function(script.body)).not.toThrow();
    const chart = await server.inject({ url: "/dashboard/chart.umd.js" });
    expect(chart.statusCode).toBe(200);
    expect(chart.body.length).toBeGreaterThan(100_000);
    expect(chart.body).toMatch(/Chart/);
  });
});
