/**
 * A provider whose total contradicts its own parts (input 10, output 5, total 999,999,999),
 * through real clients, the real tracking handler and a real store: input and output are stored
 * as reported, the record is flagged with the reported total, and the difference is never billed.
 * Anthropic's wire format carries no total (LangChain adds input + output), so its shape is
 * covered in extract-usage.test.ts.
 */
import { HumanMessage } from "@langchain/core/messages";
import { afterAll, describe, expect, it } from "vitest";
import { attachTokenTracking, createTokenMonitor } from "../../src/index.js";
import { type ClientKind, makeClient } from "../providers/clients.js";
import { startServerFor } from "../providers/scenarios.js";

const INFLATED = 999_999_999;
const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", logger: { warn: () => undefined, error: () => undefined } });
afterAll(() => monitor.close());

async function recordOf(client: ClientKind, mode: "invoke" | "stream") {
  const server = await startServerFor(client, { input: 10, output: 5, cacheRead: 0, cacheWrite: 0, reasoning: 0, reportedTotal: INFLATED });
  const user = `inflated-${client}-${mode}`;
  try {
    const model = makeClient(client, server.url);
    const config = attachTokenTracking({ configurable: { user_id: user } }, { monitor });
    if (mode === "stream") for await (const _chunk of await model.stream([new HumanMessage("Hi")], config)) void _chunk;
    else await model.invoke([new HumanMessage("Hi")], config);
  } finally {
    await server.close();
  }
  await monitor.flush();
  const { records } = await monitor.getAllUsage({ userId: user, days: 1, end: new Date(Date.now() + 60_000) });
  expect(records).toHaveLength(1);
  return records[0];
}

describe("an inflated total from a real client is recorded as reported, flagged, and not billed", () => {
  const clients: ClientKind[] = ["openai-chat", "openai-responses", "azure", "bedrock-converse", "gemini"];
  for (const client of clients) {
    for (const mode of ["invoke", "stream"] as const) {
      it(`${client}.${mode}`, async () => {
        const r = await recordOf(client, mode);
        expect(r).toMatchObject({ inputTokens: 10, outputTokens: 5, totalTokens: 15, reasoningTokens: 0, estimated: false });
        expect(r.requestMetadata.total_tokens_mismatch).toEqual({ reported_total: INFLATED, input: 10, output: 5 });
        // Billed for 15 tokens: well under a cent at any catalog price, never the ~$600 of 1e9 tokens.
        expect(r.priced).toBe(true);
        expect(r.totalCostNanos).toBeGreaterThan(0);
        expect(r.totalCostNanos).toBeLessThan(1_000_000);
      });
    }
  }
});
