/**
 * Cosmos DB behind faults, driven the way an application uses it (model calls through
 * the handler, or trackUsage, into the writer, into the Cosmos store):
 * - the server goes away (connections refused and cut) while calls go on, then returns;
 * - the proxy answers a share of all requests with 429s and drops connections before
 *   and after forwarding (writes that happened whose answer was lost).
 * Every record must be stored exactly once, and the rollups must match the records.
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { HumanMessage } from "@langchain/core/messages";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import { attachTokenTracking } from "../../src/handler/attach.js";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { CosmosUsageStore } from "../../src/stores/cosmos/index.js";
import { asRollupDocument } from "../../src/stores/cosmos/rollup-docs.js";
import { seededRandom } from "../contract/make-record.js";
import { startLocalCosmos, type LocalCosmos } from "../support/cosmos-server.js";
import { importCosmosSdk } from "../support/cosmos-sdk.js";
import { startThrottleProxy, type ProxyAction } from "../support/cosmos-throttle-proxy.js";
import { quietLogger } from "./support/children.js";
import { percentile } from "./support/sqlite-checks.js";
import { startTcpSwitch } from "./support/tcp-switch.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let local: LocalCosmos;
beforeAll(async () => {
  local = await startLocalCosmos();
});
afterAll(async () => {
  await local?.close();
});

interface Stored {
  ids: string[];
  inputTokens: number;
  /** Per user-hour-model: requests/input/output, from raw documents and from rollup documents. */
  raw: Map<string, string>;
  rollup: Map<string, string>;
}

/** Reads the container directly (not through the store's query code). */
async function readContainer(containerId: string): Promise<Stored> {
  const container = local.client().database(local.databaseId).container(containerId);
  const { resources: usage } = await container.items
    .query<{ id: string; user_id: string; timestamp: string; model: string; input_tokens: number; output_tokens: number }>(
      "SELECT c.id, c.user_id, c.timestamp, c.model, c.input_tokens, c.output_tokens FROM c WHERE c.type = 'usage'",
    )
    .fetchAll();
  const { resources: hourDocs } = await container.items.query("SELECT * FROM c WHERE c.type = 'rollup-hour'").fetchAll();
  const rollups = hourDocs.map(asRollupDocument);
  const raw = new Map<string, [number, number, number]>();
  for (const d of usage) {
    const k = `${d.user_id}|${d.timestamp.slice(0, 13)}|${d.model}`;
    const v = raw.get(k) ?? [0, 0, 0];
    raw.set(k, [v[0] + 1, v[1] + d.input_tokens, v[2] + d.output_tokens]);
  }
  const roll = new Map<string, [number, number, number]>();
  for (const doc of rollups) {
    for (const g of doc.groups) {
      const k = `${doc.user_id}|${doc.hour}|${g.model}`;
      const v = roll.get(k) ?? [0, 0, 0];
      roll.set(k, [v[0] + g.totals.requests, v[1] + g.totals.inputTokens, v[2] + g.totals.outputTokens]);
    }
  }
  const str = (m: Map<string, [number, number, number]>) => new Map([...m].map(([k, v]) => [k, v.join("/")]));
  return { ids: usage.map((d) => d.id), inputTokens: usage.reduce((s, d) => s + d.input_tokens, 0), raw: str(raw), rollup: str(roll) };
}

function cosmosMonitor(endpoint: string, containerId: string, maxAttempts: number) {
  return createTokenMonitor({
    store: new CosmosUsageStore({ client: local.client(endpoint), databaseId: local.databaseId, containerId, baseDelayMs: 5, maxDelayMs: 50, maxAttempts }, importCosmosSdk),
    writer: { flushIntervalMs: 20, batchSize: 50, retryDelayMs: 20, maxRetryDelayMs: 200, spillDir: mkdtempSync(join(tmpdir(), "tt-cosmos-spill-")) },
    logger: quietLogger,
  });
}

describe("Cosmos DB faults through the writer", () => {
  it("server down while calls go on, then back: every call recorded once", async () => {
    const gate = await startTcpSwitch(local.endpoint);
    const containerId = local.uniqueContainerId("outage");
    const monitor = cosmosMonitor(gate.endpoint, containerId, 2);
    const observed = new Map<string, number>();
    const witness = BaseCallbackHandler.fromMethods({
      handleLLMEnd(output, runId) {
        const usage = (output.generations[0][0] as { message?: { usage_metadata?: { input_tokens: number } } }).message?.usage_metadata;
        observed.set(runId, usage?.input_tokens ?? -1);
      },
    });
    const model = new ScriptedChatModel();
    const config = attachTokenTracking({ callbacks: [witness] }, { monitor, userId: "outage-user" });
    const latencies: number[] = [];
    let n = 0;
    const call = async () => {
      const t0 = performance.now();
      await model.invoke([new HumanMessage(`q${n} ${"y".repeat(n % 30)}`)], config);
      latencies.push(performance.now() - t0);
      n++;
    };
    try {
      for (let i = 0; i < 10; i++) await call();
      await monitor.flush({ timeoutMs: 10_000 }); // container created, connection warm

      await gate.off();
      const downUntil = performance.now() + 1500;
      while (performance.now() < downUntil) {
        await call();
        await new Promise((r) => setTimeout(r, 15));
      }
      const failedWhileDown = monitor.writer.stats.failedAttempts;
      const pendingWhileDown = monitor.writer.pending;
      await gate.on();
      for (let i = 0; i < 10; i++) await call();
      await monitor.flush({ timeoutMs: 20_000 });

      const stored = await readContainer(containerId);
      console.log(
        `[faults] cosmos down 1.5 s: ${n} calls, failed write attempts ${failedWhileDown}, pending at restart ${pendingWhileDown}, ` +
          `call latency p50 ${percentile(latencies, 50).toFixed(2)} ms max ${Math.max(...latencies).toFixed(2)} ms`,
      );
      expect(failedWhileDown).toBeGreaterThan(0);
      expect(pendingWhileDown).toBeGreaterThan(20);
      expect(stored.ids.length).toBe(n);
      expect(new Set(stored.ids)).toEqual(new Set(observed.keys()));
      expect(stored.inputTokens).toBe([...observed.values()].reduce((a, b) => a + b, 0));
      expect(stored.rollup).toEqual(stored.raw);
    } finally {
      await monitor.close({ timeoutMs: 1000 }).catch(() => undefined);
      await gate.close();
    }
  });

  it("429s and connection resets on a share of all requests: exact totals", async () => {
    const proxy = await startThrottleProxy(local.endpoint, 3);
    const containerId = local.uniqueContainerId("chaos");
    const random = seededRandom(20260523);
    let faults = false;
    proxy.decide = (): ProxyAction => {
      if (!faults) return "forward";
      const x = random();
      if (x < 0.2) return "throttle";
      if (x < 0.25) return "reset-before";
      if (x < 0.3) return "reset-after";
      if (x < 0.33) return "unavailable";
      return "forward";
    };
    const monitor = cosmosMonitor(proxy.endpoint, containerId, 6);
    const N = 150;
    try {
      await monitor.trackUsage({ id: "warm-up", userId: "chaos-0", provider: "openai", model: "gpt-4o-mini", inputTokens: 1, outputTokens: 1 });
      await monitor.flush({ timeoutMs: 10_000 });
      faults = true;
      const t0 = performance.now();
      let expectedInput = 1;
      for (let i = 0; i < N; i++) {
        const inputTokens = 100 + ((i * 37) % 400);
        expectedInput += inputTokens;
        await monitor.trackUsage({
          id: `chaos-${i}`,
          userId: `chaos-${i % 3}`,
          provider: "openai",
          model: i % 2 ? "gpt-4o" : "gpt-4o-mini",
          timestamp: new Date(Date.UTC(2034, 1, 1, i % 4, (i * 7) % 60)).toISOString(),
          inputTokens,
          outputTokens: 10 + (i % 20),
        });
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
      }
      await monitor.flush({ timeoutMs: 30_000 });
      faults = false;
      const elapsed = performance.now() - t0;
      const stored = await readContainer(containerId);
      console.log(
        `[faults] cosmos chaos in ${elapsed.toFixed(0)} ms: ${N + 1} records through ${proxy.counts.throttle} 429s, ${proxy.counts["reset-before"]} resets before, ` +
          `${proxy.counts["reset-after"]} resets after, ${proxy.counts.unavailable} 503s; writer attempts failed ${monitor.writer.stats.failedAttempts}, ` +
          `duplicates seen ${monitor.writer.stats.duplicates}`,
      );
      expect(proxy.counts.throttle).toBeGreaterThan(10);
      expect(proxy.counts["reset-after"]).toBeGreaterThan(0);
      expect(stored.ids.length).toBe(N + 1);
      expect(new Set(stored.ids).size).toBe(N + 1);
      expect(stored.inputTokens).toBe(expectedInput);
      expect(stored.rollup).toEqual(stored.raw);
    } finally {
      faults = false;
      await monitor.close({ timeoutMs: 1000 }).catch(() => undefined);
      await proxy.close();
    }
  });
});
