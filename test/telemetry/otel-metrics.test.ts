/**
 * OpenTelemetry GenAI metrics through the real SDK MeterProvider and its in-memory
 * exporter, after a scripted session on real LangChain clients against fake provider
 * servers: token sums per attribute set equal the providers' numbers and the store's.
 */
import { metrics } from "@opentelemetry/api";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTokenMonitor, type TokenMonitoringService, type TokenMonitorOptions } from "../../src/index.js";
import { countOf, otelSdk, startSession, sumBy, type Session } from "./support.js";

const quiet = { warn: () => undefined, error: () => undefined };
let session: Session;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  session = await startSession();
});
afterAll(() => session.close());
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function monitorWith(options: Partial<TokenMonitorOptions>): TokenMonitoringService {
  const dir = mkdtempSync(join(tmpdir(), "otel-metrics-"));
  const monitor = createTokenMonitor({
    store: "sqlite",
    sqlitePath: join(dir, "usage.db"),
    writer: { flushIntervalMs: 5, spillDir: dir },
    logger: quiet,
    env: {},
    ...options,
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => monitor.close());
  return monitor;
}

describe("OpenTelemetry GenAI metrics", () => {
  it("token usage per user and token type equals the providers' numbers and the store's, exactly", async () => {
    const sdk = otelSdk();
    cleanups.push(() => sdk.shutdown());
    const monitor = monitorWith({ telemetry: { meterProvider: sdk.provider, attributes: { user: true, thread: true, agent: true, dimensions: ["tenant"] } } });
    const truth = await session.run(monitor);
    expect(monitor.telemetry!.reporting).toBe(true);

    const usage = await sdk.points("gen_ai.client.token.usage");
    const detail = await sdk.points("token_tracking.client.token.detail");
    const range = { days: 1, end: new Date(Date.now() + 3_600_000) };
    for (const [user, t] of truth.byUser) {
      const stored = await monitor.getUserUsage(user, range);
      expect(sumBy(usage, "user.id", { "gen_ai.token.type": "input" }).get(user)).toBe(t.input);
      expect(sumBy(usage, "user.id", { "gen_ai.token.type": "output" }).get(user)).toBe(t.output);
      expect(stored.totalInputTokens).toBe(t.input);
      expect(stored.totalOutputTokens).toBe(t.output);
      expect(countOf(usage, { "user.id": user, "gen_ai.token.type": "input" })).toBe(t.calls);
      expect(sumBy(detail, "user.id", { "token_tracking.token.type": "cache_read" }).get(user)).toBe(t.cacheRead);
      expect(sumBy(detail, "user.id", { "token_tracking.token.type": "cache_write" }).get(user) ?? 0).toBe(t.cacheWrite);
      expect(sumBy(detail, "user.id", { "token_tracking.token.type": "reasoning" }).get(user) ?? 0).toBe(t.reasoning);
    }

    // Per provider and response model, as the conventions name them, against the store's per-model sums.
    const byModel = await monitor.getUsageByModel(range);
    const inputByModel = sumBy(usage, "gen_ai.response.model", { "gen_ai.token.type": "input" });
    // (the failed call's record has a model too, with no usage: not a token usage point)
    const storedByModel = byModel.filter((m) => m.totalRequests > m.errorCount).map((m) => [m.key, m.totalInputTokens]);
    expect(storedByModel).toHaveLength(2);
    expect(Object.fromEntries(inputByModel)).toEqual(Object.fromEntries(storedByModel));
    expect(new Set(usage.map((p) => p.attributes["gen_ai.provider.name"]))).toEqual(new Set(["openai", "anthropic"]));
    expect(new Set(usage.map((p) => p.attributes["gen_ai.operation.name"]))).toEqual(new Set(["chat"]));
    expect(usage.every((p) => typeof p.attributes["gen_ai.request.model"] === "string")).toBe(true);
    // Opt-in identities are there when asked for.
    expect(sumBy(usage, "token_tracking.dimension.tenant", { "gen_ai.token.type": "input" }).get("acme")).toBe(truth.byUser.get("alice")!.input);
    expect(new Set(usage.map((p) => p.attributes["gen_ai.agent.name"]))).toEqual(new Set(["support", "research"]));
    expect(new Set(usage.map((p) => p.attributes["gen_ai.conversation.id"]))).toEqual(new Set(["t-a1", "t-a2", "t-b1", "t-b2"]));
    expect(truth.agentCalls).toBe(2); // the agent's call before and after its tool call
    expect(countOf(usage, { "gen_ai.conversation.id": "t-b2", "gen_ai.agent.name": "support", "gen_ai.token.type": "input" })).toBe(2);

    // Cost: the store's exact nano-dollar sum, within float rounding of the USD counter.
    const cost = [...sumBy(await sdk.points("token_tracking.client.cost"), "gen_ai.provider.name").values()].reduce((a, b) => a + b, 0);
    const overall = await monitor.getUsageByProvider(range);
    const storedCost = overall.reduce((n, p) => n + p.totalCostNanos, 0) / 1e9;
    expect(storedCost).toBeGreaterThan(0);
    expect(cost).toBeCloseTo(storedCost, 9);

    // Duration: one point per call, the failed one with error.type and no token usage.
    const duration = await sdk.points("gen_ai.client.operation.duration");
    expect(countOf(duration)).toBe(truth.calls + truth.errors);
    expect(countOf(duration, { "error.type": "_OTHER" })).toBe(truth.errors);
    expect(countOf(usage, { "gen_ai.token.type": "input" })).toBe(truth.calls);
  });

  it("uses the global MeterProvider by default, with no identity attributes unless asked", async () => {
    const sdk = otelSdk();
    metrics.setGlobalMeterProvider(sdk.provider);
    cleanups.push(() => sdk.shutdown());
    cleanups.push(() => metrics.disable());
    const monitor = monitorWith({});
    const truth = await session.run(monitor);
    const usage = await sdk.points("gen_ai.client.token.usage");
    const total = [...truth.byUser.values()].reduce((n, t) => n + t.input, 0);
    expect(sumBy(usage, "gen_ai.token.type").get("input")).toBe(total);
    const keys = new Set(usage.flatMap((p) => Object.keys(p.attributes)));
    expect(keys).toEqual(new Set(["gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model", "gen_ai.token.type"]));
  });

  it("a record the store already held (replayed id) is not reported twice", async () => {
    const sdk = otelSdk();
    cleanups.push(() => sdk.shutdown());
    const monitor = monitorWith({ telemetry: { meterProvider: sdk.provider } });
    const input = { id: "fixed-id", userId: "u", provider: "openai", model: "gpt-4o-mini", inputTokens: 100, outputTokens: 10 };
    await monitor.trackUsage(input);
    await monitor.trackUsage({ ...input, id: "other-id" });
    await monitor.flush();
    await monitor.trackUsage(input);
    await monitor.trackUsage({ ...input, id: "third-id" });
    await monitor.flush();
    await monitor.telemetry!.idle();
    const usage = await sdk.points("gen_ai.client.token.usage");
    expect(sumBy(usage, "gen_ai.token.type").get("input")).toBe(300);
    expect(monitor.writer.stats.duplicates).toBe(1);
  });

  it("a large batch is reported in slices, all of it, once the telemetry is idle", async () => {
    const sdk = otelSdk();
    cleanups.push(() => sdk.shutdown());
    const batches: number[] = [];
    const monitor = monitorWith({
      telemetry: { meterProvider: sdk.provider },
      writer: { batchSize: 1000, flushIntervalMs: 50, onWritten: (records) => void batches.push(records.length) },
    });
    for (let i = 0; i < 450; i++) {
      await monitor.trackUsage({ userId: `u${i % 7}`, provider: "openai", model: "gpt-4o-mini", inputTokens: 10 + i, outputTokens: 1, latencyMs: 100 });
    }
    await monitor.flush();
    await monitor.telemetry!.idle();
    const usage = await sdk.points("gen_ai.client.token.usage");
    expect(Math.max(...batches)).toBeGreaterThan(100); // more than one slice in a batch
    expect(sumBy(usage, "gen_ai.token.type").get("input")).toBe(450 * 10 + (449 * 450) / 2);
    expect(countOf(await sdk.points("gen_ai.client.operation.duration"))).toBe(450);
  });

  it("a MeterProvider that throws loses its metrics only: records are stored and the budget guard still counts them", async () => {
    const warnings: string[] = [];
    const broken = { getMeter: () => { throw new Error("exporter misconfigured"); } } as unknown as import("@opentelemetry/api").MeterProvider;
    const monitor = monitorWith({
      telemetry: { meterProvider: broken },
      logger: { warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) },
      env: { DAILY_TOKEN_BUDGET: "1000" },
    });
    await monitor.budget!.getBudgetStatus(); // seeded before the write, so the write is counted by observe()
    await monitor.trackUsage({ userId: "u", provider: "openai", model: "gpt-4o-mini", inputTokens: 300, outputTokens: 20 });
    await monitor.flush();
    await monitor.telemetry!.idle();
    expect((await monitor.getUserUsage("u")).totalInputTokens).toBe(300);
    expect((await monitor.budget!.getBudgetStatus()).find((s) => s.limitId === "env:daily-tokens")!.used).toBe(320);
    expect(warnings.some((w) => w.includes("exporter misconfigured"))).toBe(true);
  });

  it("budget usage as observable gauges, read from the guard", async () => {
    const sdk = otelSdk();
    cleanups.push(() => sdk.shutdown());
    const monitor = monitorWith({ telemetry: { meterProvider: sdk.provider }, env: { DAILY_TOKEN_BUDGET: "1000", DAILY_COST_BUDGET: "2" } });
    await monitor.trackUsage({ userId: "u", provider: "openai", model: "gpt-4o-mini", inputTokens: 300, outputTokens: 50 });
    await monitor.flush();
    const utilization = await sdk.points("token_tracking.budget.utilization");
    const byId = sumBy(utilization, "token_tracking.budget.id");
    expect(byId.get("env:daily-tokens")).toBeCloseTo(0.35, 12);
    expect(sumBy(await sdk.points("token_tracking.budget.used_tokens"), "token_tracking.budget.id").get("env:daily-tokens")).toBe(350);
    expect(sumBy(await sdk.points("token_tracking.budget.limit_cost"), "token_tracking.budget.id").get("env:daily-cost")).toBe(2);
    const status = await monitor.budget!.getBudgetStatus();
    expect(byId.get("env:daily-cost")).toBeCloseTo(status.find((s) => s.limitId === "env:daily-cost")!.fractionUsed, 12);
  });

  it("without @opentelemetry/api (or without an SDK) tracking works and nothing is reported", async () => {
    const monitor = monitorWith({ telemetry: { importApi: () => Promise.reject(new Error("Cannot find module '@opentelemetry/api'")) } });
    await monitor.trackUsage({ userId: "u", provider: "openai", model: "gpt-4o-mini", inputTokens: 10, outputTokens: 1 });
    await monitor.flush();
    await monitor.telemetry!.ready();
    expect((await monitor.getUserUsage("u")).totalInputTokens).toBe(10);
    expect(monitor.telemetry!.reporting).toBe(false);

    // The API installed but no SDK registered: the no-op provider, detected once.
    const noop = monitorWith({});
    await noop.telemetry!.ready();
    await noop.trackUsage({ userId: "u", provider: "openai", model: "gpt-4o-mini", inputTokens: 10, outputTokens: 1 });
    await noop.flush();
    expect(noop.telemetry!.reporting).toBe(false);
    expect(noop.telemetry!.onWritten).toBeTypeOf("function");

    // The control: a registered SDK is seen at the next write.
    const sdk = otelSdk();
    metrics.setGlobalMeterProvider(sdk.provider);
    cleanups.push(() => sdk.shutdown());
    cleanups.push(() => metrics.disable());
    await noop.trackUsage({ userId: "u", provider: "openai", model: "gpt-4o-mini", inputTokens: 7, outputTokens: 1 });
    await noop.flush();
    await noop.telemetry!.idle();
    expect(noop.telemetry!.reporting).toBe(true);
    expect(sumBy(await sdk.points("gen_ai.client.token.usage"), "gen_ai.token.type").get("input")).toBe(7);
  });
});
