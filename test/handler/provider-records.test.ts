/**
 * The provider matrix again, through the real tracking handler and store: for every
 * client and mode, the one stored record carries exactly the usage the fake server
 * reported, the provider's model name, and a catalog price.
 */
import { HumanMessage } from "@langchain/core/messages";
import { afterAll, describe, expect, it } from "vitest";
import { attachTokenTracking, createTokenMonitor } from "../../src/index.js";
import { makeClient } from "../providers/clients.js";
import { SCENARIOS, startServerFor } from "../providers/scenarios.js";

const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", logger: { warn: () => undefined, error: () => undefined } });
afterAll(() => monitor.close());

describe("provider matrix through TokenTrackingCallbackHandler", () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: one record, exact usage, priced`, async () => {
      const server = await startServerFor(scenario.client, scenario.usage);
      const user = `matrix-${scenario.name}`;
      try {
        const model = makeClient(scenario.client, server.url, { streaming: scenario.mode === "streaming-invoke", n: scenario.n });
        const config = attachTokenTracking({ configurable: { user_id: user, thread_id: `t-${scenario.name}` } }, { monitor, agentName: "matrix" });
        if (scenario.mode === "stream") {
          for await (const _chunk of await model.stream([new HumanMessage("Say hello.")], config)) void _chunk;
        } else {
          await model.invoke([new HumanMessage("Say hello.")], config);
        }
      } finally {
        await server.close();
      }
      await monitor.flush();
      const { records } = await monitor.getAllUsage({ userId: user, days: 1, end: new Date(Date.now() + 60_000) });
      expect(records).toHaveLength(1);
      const r = records[0];
      const t = scenario.usage;
      expect(r).toMatchObject({
        inputTokens: t.input,
        outputTokens: t.output,
        cacheReadTokens: t.cacheRead,
        cacheWriteTokens: t.cacheWrite,
        reasoningTokens: t.reasoning,
        estimated: false,
        error: false,
        threadId: `t-${scenario.name}`,
        agentName: "matrix",
      });
      expect(r.priced).toBe(true);
      expect(r.totalCostNanos).toBeGreaterThan(0);
      expect(r.totalCostNanos).toBe(r.inputCostNanos + r.outputCostNanos);
    });
  }
});
