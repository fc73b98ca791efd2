/**
 * Cost-saving suggestions from recorded usage: `monitor.getRecommendations({ days: 30 })`
 * returns what to change, the estimated monthly saving and the numbers behind it,
 * most money at stake first. Four weeks of typical traffic are recorded here, each
 * pattern triggering one rule: a large model answering short tasks (a cheaper model
 * would do), long prompts without prompt caching, a model whose calls often fail,
 * an agent whose cost per request grew week over week, and a model with no price.
 *
 * Run: npx tsx examples/optimization-recommendations.ts
 */
import { createTokenMonitor, type UsageInput } from "../src/index.js";
import { exampleDbPath } from "./lib/example-db.js";

const monitor = createTokenMonitor({
  store: "sqlite",
  sqlitePath: exampleDbPath("recommendations"),
  logger: { warn: () => undefined, error: (m) => console.error(m) }, // the unpriced model is reported below instead
});

const now = Date.now();
const hoursAgo = (h: number) => new Date(now - h * 3_600_000);
async function record(count: number, call: Omit<UsageInput, "timestamp">, fromHoursAgo: number, toHoursAgo: number, vary?: (i: number) => Partial<UsageInput>) {
  for (let i = 0; i < count; i++) {
    const timestamp = hoursAgo(fromHoursAgo - ((fromHoursAgo - toHoursAgo) * i) / count);
    await monitor.trackUsage({ userId: `user-${i % 4}`, ...call, ...vary?.(i), timestamp });
  }
}

// A classifier on gpt-4o: short answers, a job for a smaller model.
await record(120, { agentName: "classifier", provider: "openai", model: "gpt-4o", inputTokens: 900, outputTokens: 12 }, 24 * 20, 1);
// A RAG agent sending 6k-token prompts to Claude with no cache reads.
await record(60, { agentName: "rag", provider: "anthropic", model: "claude-3-5-sonnet-20241022", inputTokens: 6000, outputTokens: 700 }, 24 * 20, 1);
// A gpt-4o-mini pipeline where one call in five is rate limited.
await record(50, { agentName: "extractor", provider: "openai", model: "gpt-4o-mini", inputTokens: 1500, outputTokens: 400 }, 24 * 10, 1, (i) =>
  i % 5 === 0 ? { error: true, errorMessage: "429 Too Many Requests", inputTokens: 0, outputTokens: 0 } : {},
);
// A researcher agent whose prompts doubled this week (more tool loops).
await record(30, { agentName: "researcher", provider: "openai", model: "gpt-4.1-mini", inputTokens: 4000, outputTokens: 900 }, 24 * 13, 24 * 8);
await record(30, { agentName: "researcher", provider: "openai", model: "gpt-4.1-mini", inputTokens: 8000, outputTokens: 1500 }, 24 * 6, 1);
// A self-hosted model nobody priced.
await record(15, { agentName: "summariser", provider: "vllm", model: "acme-summariser-7b", inputTokens: 2000, outputTokens: 300 }, 24 * 5, 1);
await monitor.flush();

const recommendations = await monitor.getRecommendations({ days: 30 });
console.log(`${recommendations.length} recommendations for the last 30 days:\n`);
for (const r of recommendations) {
  const saving = r.estimatedMonthlySavingUsd === null ? "saving not priced" : `saves ~$${r.estimatedMonthlySavingUsd.toFixed(2)}/month`;
  console.log(`[${r.severity}] ${r.kind}: ${r.title} (${saving})`);
  console.log(`    ${r.detail}`);
}
await monitor.close();
