/**
 * Tracking by hand, without LangChain callbacks:
 * - `monitor.trackUsage(...)` records a call you log yourself (another SDK, an import);
 *   input counts are inclusive, so cached tokens are part of `inputTokens`.
 * - `withTokenTracking(fn, ...)` wraps a function that returns a raw OpenAI SDK
 *   response and records the usage the response reports.
 *
 * Run: npx tsx examples/basic-manual-tracking.ts   (offline, temp SQLite file)
 */
import { createTokenMonitor, withTokenTracking } from "../src/index.js";
import { exampleDbPath, usd } from "./lib/example-db.js";

const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: exampleDbPath("basic") });

// 1. Hand-logged calls. The second read 1,024 of its 1,500 prompt tokens from the provider's cache.
await monitor.trackUsage({ userId: "alice", threadId: "t-1", provider: "openai", model: "gpt-4o-mini", inputTokens: 1200, outputTokens: 180 });
await monitor.trackUsage({
  userId: "alice",
  threadId: "t-1",
  provider: "openai",
  model: "gpt-4o-mini",
  inputTokens: 1500,
  outputTokens: 220,
  cacheReadTokens: 1024,
});
const claude = await monitor.trackUsage({ userId: "bob", provider: "anthropic", model: "claude-3-5-haiku-20241022", inputTokens: 900, outputTokens: 300 });
console.log(`trackUsage priced the Claude call at ${usd(claude.totalCost)} (${claude.priceSource})`);

// 2. A raw SDK call. This stand-in returns what `openai.chat.completions.create(...)` returns.
async function createCompletion(prompt: string) {
  return {
    id: "chatcmpl-example",
    object: "chat.completion",
    model: "gpt-4o-2024-08-06",
    choices: [{ index: 0, message: { role: "assistant", content: `You said: ${prompt}` }, finish_reason: "stop" }],
    usage: { prompt_tokens: 640, completion_tokens: 48, total_tokens: 688, prompt_tokens_details: { cached_tokens: 512 } },
  };
}
const trackedCompletion = withTokenTracking(createCompletion, { provider: "openai", userId: "bob", threadId: "t-2", monitor });
const reply = await trackedCompletion("hello");
console.log(`withTokenTracking returned the response unchanged: "${reply.choices[0].message.content}"`);

// Records are written in the background; flush() waits until they are durable.
await monitor.flush();
for (const user of ["alice", "bob"]) {
  const s = await monitor.getUserUsage(user, { days: 1 });
  console.log(
    `${user}: ${s.totalRequests} calls, ${s.totalInputTokens} input (${s.cacheReadTokens} cached) + ${s.totalOutputTokens} output tokens, ${usd(s.totalCost)}`,
  );
}
const all = await monitor.getOverallUsage({ days: 1 });
console.log(`Total: ${all.totalRequests} calls, ${all.totalTokens} tokens, ${usd(all.totalCost)}`);
console.log(`By model: ${JSON.stringify(all.costByModel)}`);
await monitor.close();
