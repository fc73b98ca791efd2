/**
 * Cost by model and provider with `getUsageByModel` and `getUsageByProvider`.
 * Prices come from the offline catalog at each call's timestamp; two cases show
 * what happens outside it:
 * - a price override (`pricing.models`, USD per 1M tokens) for a self-hosted model
 *   and for a negotiated gpt-4o rate: overrides win over the catalog;
 * - an unknown model is never guessed: it costs 0, `priced: false`, and is counted
 *   in `unpricedRequests` (with one warning on stderr).
 *
 * Run: npx tsx examples/cost-by-model.ts
 */
import { calculateCost, createTokenMonitor } from "../src/index.js";
import { exampleDbPath, usd } from "./lib/example-db.js";

const monitor = createTokenMonitor({
  store: "sqlite",
  sqlitePath: exampleDbPath("cost-by-model"),
  pricing: {
    models: {
      "vllm/llama-3-70b-internal": { input: 0.6, output: 0.8 },
      "openai/gpt-4o": { input: 2.0, output: 8.0, cacheRead: 1.0 },
    },
  },
});

const calls = [
  { provider: "openai", model: "gpt-4o-mini", inputTokens: 40_000, outputTokens: 8_000 },
  { provider: "openai", model: "gpt-4o", inputTokens: 20_000, outputTokens: 4_000, cacheReadTokens: 10_000 },
  { provider: "anthropic", model: "claude-3-5-sonnet-20241022", inputTokens: 30_000, outputTokens: 6_000 },
  { provider: "google_genai", model: "gemini-1.5-flash", inputTokens: 50_000, outputTokens: 5_000 },
  { provider: "vllm", model: "llama-3-70b-internal", inputTokens: 60_000, outputTokens: 9_000 },
  { provider: "acme", model: "acme-mystery-1", inputTokens: 10_000, outputTokens: 1_000 },
];
for (const call of calls) {
  const r = await monitor.trackUsage({ userId: "team-a", ...call });
  console.log(`${`${call.provider}/${call.model}`.padEnd(38)} ${usd(r.totalCost)}  ${r.priced ? `priced from ${r.priceSource}` : "UNPRICED"}`);
}
await monitor.flush();
const list = calculateCost(calls[1], { provider: "openai", model: "gpt-4o" }); // the catalog alone
console.log(`(gpt-4o at the catalog's list price would have cost ${usd(list.totalCost)})`);

console.log("\nBy model (most expensive first)");
for (const m of await monitor.getUsageByModel({ days: 1 })) {
  console.log(`  ${String(m.key).padEnd(28)} ${String(m.provider).padEnd(13)} ${String(m.totalTokens).padStart(7)} tokens  ${usd(m.totalCost)}${m.unpricedRequests ? "  (unpriced)" : ""}`);
}
console.log("By provider");
for (const p of await monitor.getUsageByProvider({ days: 1 })) console.log(`  ${String(p.key).padEnd(13)} ${usd(p.totalCost)}`);

const all = await monitor.getOverallUsage({ days: 1 });
console.log(`Total ${usd(all.totalCost)} over ${all.totalRequests} calls; ${all.unpricedRequests} unpriced call(s) not included`);
await monitor.close();
