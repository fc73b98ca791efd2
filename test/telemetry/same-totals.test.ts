/**
 * The "done when" of the observability work: one scripted agent session (real LangChain
 * clients, fake provider servers) shows the same totals in the store, in the OpenTelemetry
 * SDK's in-memory exporter, and in `GET /metrics` parsed by a Prometheus text parser.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenMonitor, type TokenMonitoringService } from "../../src/index.js";
import { createApiKey } from "../../src/server/auth/api-keys.js";
import { buildApp } from "../../src/server/build-app.js";
import { otelSdk, startSession, sumBy, type Session, type SessionTruth } from "./support.js";

const ADMIN_KEY = "admin-key-for-metrics-0123456789";
const METRICS_KEY = "scraper-key-0123456789abcdef";

let session: Session;
let monitor: TokenMonitoringService;
let sdk: ReturnType<typeof otelSdk>;
let app: FastifyInstance;
let truth: SessionTruth;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "same-totals-"));
  session = await startSession();
  sdk = otelSdk();
  monitor = createTokenMonitor({
    store: "sqlite",
    sqlitePath: join(dir, "usage.db"),
    writer: { flushIntervalMs: 5, spillDir: dir },
    logger: { warn: () => undefined, error: () => undefined },
    telemetry: { meterProvider: sdk.provider },
    env: { DAILY_TOKEN_BUDGET: "100000" },
  });
  truth = await session.run(monitor);
  app = await buildApp({ monitor, budget: monitor.budget, adminKey: ADMIN_KEY, metricsKey: METRICS_KEY, metricsCacheMs: 0, env: {} });
});
afterAll(async () => {
  await app?.close();
  await monitor?.close();
  await sdk?.shutdown();
  await session?.close();
  rmSync(dir, { recursive: true, force: true });
});

type Families = ReturnType<typeof parsePrometheusTextFormat>;

async function scrape(key = METRICS_KEY): Promise<Families> {
  const res = await app.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${key}` } });
  expect(res.statusCode).toBe(200);
  expect(res.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheusTextFormat(res.body);
}

/** Sum of a parsed family's samples whose labels include `match`. */
function total(families: Families, name: string, match: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  if (!family) throw new Error(`no family ${name}`);
  return family.metrics
    .filter((m) => Object.entries(match).every(([k, v]) => m.labels?.[k] === v))
    .reduce((n, m) => n + Number(m.value), 0);
}

describe("one session, the same totals everywhere", () => {
  it("input, output, cache and reasoning tokens, calls, errors and cost agree: store = OTel = /metrics = providers", async () => {
    const families = await scrape();
    const range = { start: new Date("2000-01-01T00:00:00Z"), end: new Date(Date.now() + 3_600_000) };
    const store = (await monitor.getUsageByProvider(range)).reduce(
      (t, p) => ({
        input: t.input + p.totalInputTokens,
        output: t.output + p.totalOutputTokens,
        cacheRead: t.cacheRead + p.cacheReadTokens,
        cacheWrite: t.cacheWrite + p.cacheWriteTokens,
        reasoning: t.reasoning + p.reasoningTokens,
        requests: t.requests + p.totalRequests,
        errors: t.errors + p.errorCount,
        costNanos: t.costNanos + p.totalCostNanos,
      }),
      { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0, requests: 0, errors: 0, costNanos: 0 },
    );
    const providers = [...truth.byUser.values()].reduce(
      (t, u) => ({ input: t.input + u.input, output: t.output + u.output, cacheRead: t.cacheRead + u.cacheRead, cacheWrite: t.cacheWrite + u.cacheWrite, reasoning: t.reasoning + u.reasoning }),
      { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 },
    );
    const usage = await sdk.points("gen_ai.client.token.usage");
    const detail = await sdk.points("token_tracking.client.token.detail");
    const otel = {
      input: sumBy(usage, "gen_ai.token.type").get("input"),
      output: sumBy(usage, "gen_ai.token.type").get("output"),
      cacheRead: sumBy(detail, "token_tracking.token.type").get("cache_read"),
      cacheWrite: sumBy(detail, "token_tracking.token.type").get("cache_write"),
      reasoning: sumBy(detail, "token_tracking.token.type").get("reasoning"),
    };
    const prom = {
      input: total(families, "token_usage_tokens_total", { type: "input" }),
      output: total(families, "token_usage_tokens_total", { type: "output" }),
      cacheRead: total(families, "token_usage_tokens_total", { type: "cache_read" }),
      cacheWrite: total(families, "token_usage_tokens_total", { type: "cache_write" }),
      reasoning: total(families, "token_usage_tokens_total", { type: "reasoning" }),
    };
    expect(providers.input).toBeGreaterThan(0);
    expect(providers.cacheWrite).toBeGreaterThan(0);
    expect(providers.reasoning).toBeGreaterThan(0);
    const storeTokens = { input: store.input, output: store.output, cacheRead: store.cacheRead, cacheWrite: store.cacheWrite, reasoning: store.reasoning };
    expect(storeTokens).toEqual(providers);
    expect(otel).toEqual(providers);
    expect(prom).toEqual(providers);

    expect(total(families, "token_usage_requests_total")).toBe(store.requests);
    expect(store.requests).toBe(truth.calls + truth.errors);
    expect(total(families, "token_usage_errors_total")).toBe(truth.errors);
    expect(store.errors).toBe(truth.errors);
    const otelCost = [...sumBy(await sdk.points("token_tracking.client.cost"), "gen_ai.provider.name").values()].reduce((a, b) => a + b, 0);
    expect(store.costNanos).toBeGreaterThan(0);
    expect(total(families, "token_usage_cost_usd_total")).toBeCloseTo(store.costNanos / 1e9, 9);
    expect(otelCost).toBeCloseTo(store.costNanos / 1e9, 9);

    // Per model label, the same split as the store's.
    const byModel = await monitor.getUsageByModel(range);
    for (const m of byModel) expect(total(families, "token_usage_tokens_total", { model: m.key!, type: "input" })).toBe(m.totalInputTokens);
    expect(new Set(families.find((f) => f.name === "token_usage_requests_total")!.metrics.map((m) => m.labels!.agent))).toEqual(new Set(["support", "research"]));
  });

  it("every family is typed, counters end in _total, and counters never go down between scrapes", async () => {
    const first = await scrape();
    for (const f of first) {
      expect(["COUNTER", "GAUGE"]).toContain(f.type);
      if (f.type === "COUNTER") expect(f.name.endsWith("_total")).toBe(true);
      for (const m of f.metrics) expect(Number.isFinite(Number(m.value))).toBe(true);
    }
    await monitor.trackUsage({ userId: "carol", provider: "openai", model: "gpt-4o-mini", inputTokens: 1000, outputTokens: 100, agentName: "support" });
    await monitor.flush();
    const second = await scrape(ADMIN_KEY);
    expect(total(second, "token_usage_tokens_total", { type: "input" })).toBe(total(first, "token_usage_tokens_total", { type: "input" }) + 1000);
    expect(total(second, "token_usage_requests_total")).toBe(total(first, "token_usage_requests_total") + 1);
    // The budget gauges: the global daily token limit, from the guard.
    const status = (await monitor.budget!.getBudgetStatus()).find((s) => s.limitId === "env:daily-tokens")!;
    expect(total(second, "token_usage_budget_used", { limit_id: "env:daily-tokens", metric: "tokens" })).toBe(status.used);
    expect(total(second, "token_usage_budget_limit", { limit_id: "env:daily-tokens" })).toBe(100000);
    expect(total(second, "token_usage_budget_utilization_ratio", { limit_id: "env:daily-tokens" })).toBeCloseTo(status.used / 100000, 12);
  });

  it("a second server replica on the same store reports the same totals (they come from the store, not the process)", async () => {
    const replica = createTokenMonitor({ store: "sqlite", sqlitePath: join(dir, "usage.db"), writer: { spillDir: dir }, telemetry: false, budget: false, env: {} });
    const other = await buildApp({ monitor: replica, adminKey: ADMIN_KEY, metricsKey: METRICS_KEY, env: {} });
    try {
      const res = await other.inject({ method: "GET", url: "/metrics", headers: { "x-api-key": METRICS_KEY } });
      const mine = await scrape();
      const theirs = parsePrometheusTextFormat(res.body);
      for (const name of ["token_usage_tokens_total", "token_usage_requests_total", "token_usage_cost_usd_total"]) {
        expect(total(theirs, name)).toBe(total(mine, name));
      }
    } finally {
      await other.close();
      await replica.close();
    }
  });

  it("scrapes within metricsCacheMs share one store read; a failed read is not served again", async () => {
    let reads = 0;
    let fail = false;
    const counting = Object.create(monitor) as TokenMonitoringService;
    counting.aggregate = async (...args: Parameters<TokenMonitoringService["aggregate"]>) => {
      reads++;
      if (fail) throw new Error("store down");
      return monitor.aggregate(...args);
    };
    const cachedApp = await buildApp({ monitor: counting, adminKey: ADMIN_KEY, metricsKey: METRICS_KEY, metricsCacheMs: 60_000, env: {} });
    try {
      fail = true;
      const failed = await cachedApp.inject({ method: "GET", url: "/metrics", headers: { "x-api-key": METRICS_KEY } });
      expect(failed.statusCode).toBe(500);
      fail = false;
      const bodies = await Promise.all(
        [1, 2, 3].map(() => cachedApp.inject({ method: "GET", url: "/metrics", headers: { "x-api-key": METRICS_KEY } }).then((r) => r.body)),
      );
      expect(reads).toBe(2); // the failed read, then one read for three scrapes
      expect(new Set(bodies).size).toBe(1);
      expect(total(parsePrometheusTextFormat(bodies[0]), "token_usage_requests_total")).toBeGreaterThan(0);
    } finally {
      await cachedApp.close();
    }
  });

  it("needs the admin or the metrics key: none, a wrong one, or a user's key is 401", async () => {
    expect((await app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(401);
    expect((await app.inject({ method: "GET", url: "/metrics", headers: { "x-api-key": "not-the-key-0123456789" } })).statusCode).toBe(401);
    const { key } = await createApiKey(monitor.store, { userId: "alice" });
    const asUser = await app.inject({ method: "GET", url: "/metrics", headers: { "x-api-key": key } });
    expect(asUser.statusCode).toBe(401);
    expect(asUser.json().message).toMatch(/metrics key/);
    // The metrics key reads nothing else.
    expect((await app.inject({ method: "GET", url: "/token-usage/by-model", headers: { "x-api-key": METRICS_KEY } })).statusCode).toBe(401);
  });
});
