/**
 * Cost over time with `getCostTrend`: two weeks of calls (recorded with their own
 * timestamps through `trackUsage`), bucketed by day and by week (weeks start on
 * Monday), drawn as a text bar chart in the terminal and as a PNG chart
 * (chart.js in headless Chromium) in test-artifacts/cost-trend.png.
 *
 * Run: npx tsx examples/cost-trend.ts   (without Chromium it prints the text chart only)
 */
import { fileURLToPath } from "node:url";
import { createTokenMonitor, type TrendPoint } from "../src/index.js";
import { chartUnavailableReason, renderChartPng } from "./lib/chart-png.js";
import { exampleDbPath, usd } from "./lib/example-db.js";

const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: exampleDbPath("cost-trend") });

// The 14 whole UTC days before today; weekdays are busier than weekends, and usage grows.
const DAY = 86_400_000;
const end = new Date(new Date().toISOString().slice(0, 10) + "T00:00:00Z");
const start = new Date(end.getTime() - 14 * DAY);
for (let d = 0; d < 14; d++) {
  const day = new Date(start.getTime() + d * DAY);
  const weekend = day.getUTCDay() === 0 || day.getUTCDay() === 6;
  for (let call = 0; call < (weekend ? 2 : 6 + d); call++) {
    const timestamp = new Date(day.getTime() + (8 + call * 0.5) * 3_600_000);
    await monitor.trackUsage({ userId: `user-${call % 3}`, provider: "openai", model: "gpt-4o", inputTokens: 3000 + 100 * d, outputTokens: 500, timestamp });
  }
}
await monitor.flush();

function textChart(title: string, points: TrendPoint[], width = 40): void {
  const max = Math.max(...points.map((p) => p.cost), Number.EPSILON);
  console.log(title);
  for (const p of points) console.log(`  ${p.date} ${"█".repeat(Math.round((p.cost / max) * width)).padEnd(width)} ${usd(p.cost)} (${p.requests} calls)`);
}
const daily = await monitor.getCostTrend({ start, end, granularity: "day" });
const weekly = await monitor.getCostTrend({ start, end, granularity: "week" });
textChart("Cost per day (UTC)", daily);
textChart("Cost per week (weeks start on Monday)", weekly);
console.log(`Total over 14 days: ${usd(daily.reduce((sum, p) => sum + p.cost, 0))}`);

const png = process.env.COST_TREND_PNG ?? fileURLToPath(new URL("../test-artifacts/cost-trend.png", import.meta.url));
const unavailable = chartUnavailableReason();
if (unavailable) {
  console.log(`No chart image: ${unavailable}. Install it (sudo bash scripts/ensure-chromium.sh) and run again.`);
} else {
  const spec = {
    type: "bar",
    data: { labels: daily.map((p) => p.date), datasets: [{ label: "Cost per day (USD)", data: daily.map((p) => p.cost), backgroundColor: "#4e79a7" }] },
    options: { plugins: { title: { display: true, text: "gpt-4o cost, last 14 days" } } },
  };
  await renderChartPng(spec, png);
  console.log(`Chart image written to ${png}`);
}
await monitor.close();
