/**
 * The main job (`npm start`): a scripted multi-user, multi-thread session of two
 * langchain v1 agents (`createAgent`, built on LangGraph) with tool calls, tracked into the embedded SQLite store with one
 * line each, then a usage summary read back from the store. No API key needed.
 */
import { tool } from "@langchain/core/tools";
import Table from "cli-table3";
import { createAgent } from "langchain";
import { z } from "zod";
import { attachTokenTracking, getTokenMonitor } from "../src/index.js";
import { ScriptedChatModel } from "./lib/scripted-chat-model.js";

const lookup = tool(async ({ query }: { query: string }) => `status of ${query}: all systems normal`, {
  name: "lookup_status",
  description: "Looks up the status of a system.",
  schema: z.object({ query: z.string() }),
});

const agents = {
  support_agent: createAgent({ model: new ScriptedChatModel({ model: "gpt-4o-mini-2024-07-18" }), tools: [lookup], name: "support_agent" }),
  research_agent: createAgent({
    model: new ScriptedChatModel({ model: "claude-3-5-haiku-20241022", provider: "anthropic" }),
    tools: [lookup],
    name: "research_agent",
  }),
};

const sessions = [
  { user_id: "alice", thread_id: "alice-onboarding", agent: "support_agent", turns: 3 },
  { user_id: "alice", thread_id: "alice-research", agent: "research_agent", turns: 2 },
  { user_id: "bob", thread_id: "bob-billing", agent: "support_agent", turns: 4 },
  { user_id: "carol", thread_id: "carol-report", agent: "research_agent", turns: 3 },
] as const;

/** No colours: the summary is read in logs and CI output as often as in a terminal. */
const plain = { head: [], border: [] };

async function main() {
  const monitor = getTokenMonitor();
  const started = new Date();
  for (const s of sessions) {
    for (let turn = 1; turn <= s.turns; turn++) {
      // The one-line integration: attribution comes from `configurable`.
      const config = attachTokenTracking({ configurable: { user_id: s.user_id, thread_id: s.thread_id } }, { agentName: s.agent });
      await agents[s.agent].invoke({ messages: [{ role: "user", content: `Question ${turn} from ${s.user_id}` }] }, config);
    }
  }
  await monitor.flush();

  const range = { start: started, end: new Date(Date.now() + 1000) };
  const users = new Table({ style: plain, head: ["user", "requests", "input tok", "cached", "output tok", "cost (USD)"] });
  for (const user of ["alice", "bob", "carol"]) {
    const s = await monitor.getUserUsage(user, range);
    users.push([user, s.totalRequests, s.totalInputTokens, s.cacheReadTokens, s.totalOutputTokens, s.totalCost.toFixed(6)]);
  }
  const threads = new Table({ style: plain, head: ["thread", "requests", "tokens", "cost (USD)"] });
  for (const s of sessions) {
    const t = await monitor.getThreadUsage(s.thread_id, range);
    threads.push([s.thread_id, t.totalRequests, t.totalTokens, t.totalCost.toFixed(6)]);
  }
  const models = new Table({ style: plain, head: ["model", "provider", "requests", "tokens", "cost (USD)"] });
  for (const m of await monitor.getUsageByModel(range)) {
    models.push([m.key ?? "?", m.provider ?? "?", m.totalRequests, m.totalTokens, m.totalCost.toFixed(6)]);
  }
  const byAgent = new Table({ style: plain, head: ["agent", "requests", "cost (USD)"] });
  for (const a of await monitor.getUsageByAgent(range)) byAgent.push([a.key ?? "?", a.totalRequests, a.totalCost.toFixed(6)]);

  console.log(`Recorded this session into ${"path" in monitor.store ? monitor.store.path : monitor.store.kind}\n`);
  console.log("Per user\n" + users.toString());
  console.log("\nPer thread\n" + threads.toString());
  console.log("\nPer model\n" + models.toString());
  console.log("\nPer agent\n" + byAgent.toString());
  const all = await monitor.getOverallUsage({ days: 3650 });
  console.log(`\nAll time in this database: ${all.totalRequests} calls, ${all.totalTokens} tokens, $${all.totalCost.toFixed(6)}`);
  await monitor.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
