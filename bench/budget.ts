/** The cost of a budget check before a model call, once its window is loaded. */
import { createTokenMonitor } from "../src/index.js";
import { fmt, median, type Row } from "./stats.js";

export async function benchBudget(): Promise<Row[]> {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", env: { DAILY_COST_BUDGET: "100" } });
  const guard = monitor.budget!;
  await guard.setLimit({ id: "per-user", scope: "user:*", metric: "tokens", amount: 1_000_000, period: "day" });
  for (let i = 0; i < 200; i++) {
    await monitor.trackUsage({ userId: `u${i % 20}`, provider: "openai", model: "gpt-4o-mini", inputTokens: 1000, outputTokens: 100 });
  }
  await monitor.flush();
  for (let i = 0; i < 20; i++) await guard.check(`u${i}`); // loads each window once
  const samples: number[] = [];
  for (let round = 0; round < 30; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) await guard.check(`u${i % 20}`);
    samples.push(Number(process.hrtime.bigint() - t0) / 1000 / 1000);
  }
  await monitor.close();
  return [{ section: "budgets", measure: "guard.check(user) with a global and a per-user limit (median)", value: `${fmt(median(samples), 2)} µs`, note: "target well under 1 ms; no store read" }];
}
