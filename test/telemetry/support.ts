/**
 * A scripted agent session for the telemetry tests: real `ChatOpenAI` and `ChatAnthropic`
 * clients talking HTTP to the fake provider servers, a LangGraph ReAct agent with a tool
 * call, two users, three threads, two agents, a tenant dimension, and one call that fails
 * (connection refused). It returns what the
 * servers reported, so the tests can check every total against the provider's own numbers.
 *
 * Plus an OpenTelemetry SDK MeterProvider with an in-memory exporter, and a helper that
 * sums the exported points per attribute set.
 */
import { ChatAnthropic } from "@langchain/anthropic";
import { tool } from "@langchain/core/tools";
import { createReactAgent } from "@langchain/langgraph/prebuilt";
import { z } from "zod";
import { ChatOpenAI } from "@langchain/openai";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type Histogram,
} from "@opentelemetry/sdk-metrics";
import { attachTokenTracking, type TokenMonitoringService } from "../../src/index.js";
import { startFakeAnthropicServer, startFakeOpenAIChatServer } from "../providers/fake-servers/index.js";
import type { FakeServer, FakeUsage } from "../providers/fake-servers/shared.js";

export const openaiUsage = (i: number): FakeUsage => ({ input: 200 + 11 * i, output: 30 + 7 * i, cacheRead: i % 2 ? 64 : 0, cacheWrite: 0, reasoning: i % 3 ? 0 : 12 });
export const anthropicUsage = (i: number): FakeUsage => ({ input: 500 + 13 * i, output: 80 + 5 * i, cacheRead: 128, cacheWrite: i === 0 ? 256 : 0, reasoning: 0 });

export interface SessionTruth {
  /** Per user: the providers' own totals over the user's successful calls. */
  byUser: Map<string, { input: number; output: number; cacheRead: number; cacheWrite: number; reasoning: number; calls: number }>;
  calls: number;
  errors: number;
  /** Model calls the LangGraph agent made (one before its tool call, one after). */
  agentCalls: number;
}

export interface Session {
  run(monitor: TokenMonitoringService): Promise<SessionTruth>;
  close(): Promise<void>;
}

export async function startSession(): Promise<Session> {
  const openai = await startFakeOpenAIChatServer({ usage: openaiUsage, toolCall: { name: "order_status", args: { order: "A-1" } } });
  const anthropic = await startFakeAnthropicServer({ usage: anthropicUsage });
  const servers: FakeServer[] = [openai, anthropic];
  return {
    async run(monitor) {
      const truth: SessionTruth = { byUser: new Map(), calls: 0, errors: 0, agentCalls: 0 };
      const gpt = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test-key", configuration: { baseURL: openai.url }, maxRetries: 0 });
      const claude = new ChatAnthropic({ model: "claude-sonnet-4-5", apiKey: "test-key", anthropicApiUrl: anthropic.url, maxRetries: 0 });
      const script = [
        { user: "alice", thread: "t-a1", agent: "support", tenant: "acme", model: "gpt" },
        { user: "alice", thread: "t-a1", agent: "support", tenant: "acme", model: "claude" },
        { user: "alice", thread: "t-a2", agent: "research", tenant: "acme", model: "gpt" },
        { user: "bob", thread: "t-b1", agent: "support", tenant: "globex", model: "claude" },
        { user: "bob", thread: "t-b1", agent: "support", tenant: "globex", model: "gpt" },
        { user: "bob", thread: "t-b1", agent: "research", tenant: "globex", model: "claude" },
        { user: "alice", thread: "t-a2", agent: "research", tenant: "acme", model: "gpt" },
      ] as const;
      for (const step of script) {
        const server = step.model === "gpt" ? openai : anthropic;
        const index = server.requests;
        const config = attachTokenTracking(
          { configurable: { user_id: step.user, thread_id: step.thread }, metadata: { tenant: step.tenant } },
          { monitor, agentName: step.agent },
        );
        await (step.model === "gpt" ? gpt : claude).invoke(`question ${truth.calls}`, config);
        const u = step.model === "gpt" ? openaiUsage(index) : anthropicUsage(index);
        const t = truth.byUser.get(step.user) ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0, calls: 0 };
        t.input += u.input;
        t.output += u.output;
        t.cacheRead += u.cacheRead;
        t.cacheWrite += u.cacheWrite;
        t.reasoning += u.reasoning;
        t.calls++;
        truth.byUser.set(step.user, t);
        truth.calls++;
      }
      // A LangGraph agent: model call -> tool call -> model call, both calls tracked.
      const orderStatus = tool(async ({ order }: { order: string }) => `Order ${order} shipped`, {
        name: "order_status",
        description: "Status of an order",
        schema: z.object({ order: z.string() }),
      });
      const agent = createReactAgent({ llm: gpt, tools: [orderStatus], name: "support" });
      const before = openai.requests;
      await agent.invoke(
        { messages: [{ role: "user", content: "where is my order?" }] },
        attachTokenTracking({ configurable: { user_id: "bob", thread_id: "t-b2" }, metadata: { tenant: "globex" } }, { monitor }),
      );
      const bob = truth.byUser.get("bob")!;
      for (let i = before; i < openai.requests; i++) {
        const u = openaiUsage(i);
        bob.input += u.input;
        bob.output += u.output;
        bob.cacheRead += u.cacheRead;
        bob.cacheWrite += u.cacheWrite;
        bob.reasoning += u.reasoning;
        bob.calls++;
        truth.calls++;
      }
      truth.agentCalls = openai.requests - before;
      // A provider that refuses connections: an error record, no usage.
      const dead = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test-key", configuration: { baseURL: "http://127.0.0.1:1/v1" }, maxRetries: 0 });
      await dead.invoke("fails", attachTokenTracking({ configurable: { user_id: "bob", thread_id: "t-b1" } }, { monitor, agentName: "support" })).catch(() => undefined);
      truth.errors++;
      await monitor.flush();
      await monitor.telemetry?.idle();
      return truth;
    },
    async close() {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}

export function otelSdk() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // The interval is never reached: the tests collect with forceFlush.
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  return {
    provider,
    /** Collects now and returns the last export's points of `name`. */
    async points(name: string): Promise<DataPoint<number | Histogram>[]> {
      await reader.forceFlush();
      const exports = exporter.getMetrics();
      const last = exports[exports.length - 1];
      const metric = last?.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
      return (metric?.dataPoints ?? []) as DataPoint<number | Histogram>[];
    },
    shutdown: () => provider.shutdown(),
  };
}

/** Sum of the points' values (a histogram's `sum`) whose attributes include `match`, keyed by `by`. */
export function sumBy(points: DataPoint<number | Histogram>[], by: string, match: Record<string, string> = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of points) {
    if (!Object.entries(match).every(([k, v]) => p.attributes[k] === v)) continue;
    const key = String(p.attributes[by]);
    const value = typeof p.value === "number" ? p.value : (p.value.sum ?? 0);
    out.set(key, (out.get(key) ?? 0) + value);
  }
  return out;
}

/** Sum of histogram counts (calls) whose attributes include `match`. */
export function countOf(points: DataPoint<number | Histogram>[], match: Record<string, string> = {}): number {
  return points
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce((n, p) => n + (typeof p.value === "number" ? 1 : p.value.count), 0);
}
