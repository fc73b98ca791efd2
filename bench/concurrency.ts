/**
 * 1,000 concurrent agent runs (a scripted chat model, no network): without callbacks,
 * with a no-op handler (LangChain's own callback machinery), and with tracking, in
 * turn in the same process: throughput, and the latency tracking adds at the median
 * and p99 over the no-op handler.
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { HumanMessage } from "@langchain/core/messages";
import { ScriptedChatModel } from "../examples/lib/scripted-chat-model.js";
import { attachTokenTracking, createTokenMonitor } from "../src/index.js";
import { fmt, percentile, type Row } from "./stats.js";

async function wave(n: number, config: (i: number) => Record<string, unknown>): Promise<{ latencies: number[]; seconds: number }> {
  const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
  const latencies: number[] = new Array(n);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const s = performance.now();
      await model.invoke([new HumanMessage(`question ${i}`)], config(i));
      latencies[i] = performance.now() - s;
    }),
  );
  return { latencies, seconds: (performance.now() - t0) / 1000 };
}

class NoopHandler extends BaseCallbackHandler {
  name = "noop";
  override handleChatModelStart() {}
  override handleLLMEnd() {}
}

export async function benchConcurrency(n = 1000, rounds = 3): Promise<Row[]> {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", budget: false });
  const kinds = {
    none: { latencies: [] as number[], seconds: 0, config: () => ({}) },
    noop: { latencies: [] as number[], seconds: 0, config: () => ({ callbacks: [new NoopHandler()] }) },
    tracked: {
      latencies: [] as number[],
      seconds: 0,
      config: (i: number) => attachTokenTracking({ configurable: { user_id: `u${i % 50}`, thread_id: `t${i}` } }, { monitor }),
    },
  };
  for (let r = 0; r < rounds; r++) {
    for (const kind of Object.values(kinds)) {
      const w = await wave(n, kind.config);
      kind.latencies.push(...w.latencies);
      kind.seconds += w.seconds;
    }
    await monitor.flush();
  }
  const stored = (await monitor.getOverallUsage({ days: 1, end: new Date(Date.now() + 60_000) })).totalRequests;
  await monitor.close();
  const total = n * rounds;
  const rate = (k: keyof typeof kinds) => fmt(total / kinds[k].seconds);
  const p = (k: keyof typeof kinds, q: number) => percentile(kinds[k].latencies, q);
  const section = `${n} concurrent agent runs`;
  return [
    {
      section,
      measure: "throughput: no callbacks / no-op handler / tracking",
      value: `${rate("none")} / ${rate("noop")} / ${rate("tracked")} runs/s`,
      note: `${stored.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} tracked calls stored`,
    },
    { section, measure: "latency added by tracking over a no-op handler, median", value: `${fmt(p("tracked", 50) - p("noop", 50), 3)} ms`, note: `no-op handler: ${fmt(p("noop", 50), 3)} ms; no callbacks: ${fmt(p("none", 50), 3)} ms` },
    { section, measure: "latency added by tracking over a no-op handler, p99", value: `${fmt(p("tracked", 99) - p("noop", 99), 3)} ms`, note: `no-op handler: ${fmt(p("noop", 99), 3)} ms; no callbacks: ${fmt(p("none", 99), 3)} ms` },
  ];
}
