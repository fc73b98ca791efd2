/**
 * A per-user daily token budget in block mode: `monitor.budget.setLimit(...)` keeps
 * the limit in the store, `onAlert` hears about 80%, 95% and 100%, and
 * `attachTokenTracking(config, { budget: true })` refuses a call that would go
 * over with a `BudgetExceededError`, before the model is called.
 * `getBudgetStatus` reports used, remaining and when the window resets.
 *
 * Run: npx tsx examples/budget-monitoring.ts
 */
import { attachTokenTracking, BudgetExceededError, createTokenMonitor } from "../src/index.js";
import { exampleDbPath } from "./lib/example-db.js";
import { ScriptedChatModel } from "./lib/scripted-chat-model.js";

const monitor = createTokenMonitor({
  store: "sqlite",
  sqlitePath: exampleDbPath("budget"),
  budget: {
    onAlert: (a) => console.log(`  ALERT ${a.level}: ${a.userId} at ${Math.round(a.fractionUsed * 100)}% of ${a.limit} tokens (threshold ${a.threshold * 100}%)`),
    // A call is admitted when its estimate (prompt + 64 answer tokens, unless the model
    // declares max_tokens) fits. The real usage may overshoot: that raises the 100% alert.
    estimate: { defaultMaxOutputTokens: 64 },
  },
  logger: { warn: () => undefined, error: (m) => console.error(m) }, // alerts are printed by onAlert above
});
const guard = monitor.budget!;

await guard.setLimit({ scope: "user:alice", metric: "tokens", amount: 3000, period: "day", mode: "block", thresholds: [0.8, 0.95] });

const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
for (let call = 1; call <= 20; call++) {
  try {
    const config = attachTokenTracking({ configurable: { user_id: "alice" } }, { monitor, budget: true });
    await model.invoke(`Summarise ticket #${call}`, config);
    await monitor.flush(); // the guard counts what is written
    await guard.flushAlerts();
    const [status] = await guard.getBudgetStatus("alice");
    console.log(`call ${call}: allowed, ${status.used} of ${status.limit} tokens used`);
  } catch (error) {
    if (!(error instanceof BudgetExceededError)) throw error;
    console.log(`call ${call}: refused with ${error.code}: ${error.message}`);
    break;
  }
}

for (const s of await guard.getBudgetStatus("alice")) {
  console.log(`Budget ${s.limitId}: ${s.state}, used ${s.used}/${s.limit} (${Math.round(s.fractionUsed * 100)}%), remaining ${s.remaining}, resets at ${s.resetsAt}`);
}
const recorded = await monitor.getUserUsage("alice", { days: 1 });
console.log(`Recorded model calls of alice: ${recorded.totalRequests} (the refused call never reached the model)`);
// Another user has no limit of their own: nothing applies.
console.log(`Limits that apply to bob: ${(await guard.getBudgetStatus("bob")).length}`);
await monitor.close();
