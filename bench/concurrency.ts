/**
 * 1,000 concurrent agent runs (a scripted chat model, no network), once without and
 * once with tracking, in the same process: throughput and the latency the tracking
 * adds at the median and p99.
 */
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

export async function benchConcurrency(n = 1000, rounds = 3): Promise<Row[]> {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", budget: false });
  const plain: number[] = [];
  const tracked: number[] = [];
  let plainSeconds = 0;
  let trackedSeconds = 0;
  for (let r = 0; r < rounds; r++) {
    const a = await wave(n, () => ({}));
    plain.push(...a.latencies);
    plainSeconds += a.seconds;
    const b = await wave(n, (i) => attachTokenTracking({ configurable: { user_id: `u${i % 50}`, thread_id: `t${i}` } }, { monitor }));
    tracked.push(...b.latencies);
    trackedSeconds += b.seconds;
    await monitor.flush();
  }
  const stored = (await monitor.getOverallUsage({ days: 1, end: new Date(Date.now() + 60_000) })).totalRequests;
  await monitor.close();
  return [
    { section: `${n} concurrent agent runs`, measure: "throughput without / with tracking", value: `${fmt((n * rounds) / plainSeconds)} / ${fmt((n * rounds) / trackedSeconds)} runs/s`, note: `${stored.toLocaleString("en-US")} of ${(n * rounds).toLocaleString("en-US")} calls stored, none lost` },
    { section: `${n} concurrent agent runs`, measure: "added latency, median", value: `${fmt(percentile(tracked, 50) - percentile(plain, 50), 3)} ms`, note: `without: ${fmt(percentile(plain, 50), 3)} ms` },
    { section: `${n} concurrent agent runs`, measure: "added latency, p99", value: `${fmt(percentile(tracked, 99) - percentile(plain, 99), 3)} ms`, note: `without: ${fmt(percentile(plain, 99), 3)} ms` },
  ];
}
