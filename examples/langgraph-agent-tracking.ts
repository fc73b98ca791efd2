/**
 * Automatic tracking of a LangGraph.js agent: one line, `attachTokenTracking(config)`,
 * adds the tracking callback to the run config. Every model call the agent makes
 * (here: one that calls a tool, one that answers) becomes a record attributed to
 * the user, the thread and the agent, priced from the offline catalog.
 * The model is `ScriptedChatModel`, a fake chat model that reports usage like a
 * real provider, so no API key or network is needed.
 *
 * Run: npx tsx examples/langgraph-agent-tracking.ts
 */
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import { tool } from "@langchain/core/tools";
import { createReactAgent } from "@langchain/langgraph/prebuilt";
import { z } from "zod";
import { attachTokenTracking, createTokenMonitor } from "../src/index.js";
import { exampleDbPath, usd } from "./lib/example-db.js";
import { ScriptedChatModel } from "./lib/scripted-chat-model.js";

const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: exampleDbPath("langgraph") });

const getWeather = tool(async ({ city }: { city: string }) => `It is sunny in ${city}.`, {
  name: "get_weather",
  description: "Current weather of a city.",
  schema: z.object({ city: z.string() }),
});
const agent = createReactAgent({ llm: new ScriptedChatModel({ model: "gpt-4o-mini" }), tools: [getWeather], name: "weather_agent" });

for (const question of ["Weather in Paris?", "And in Tokyo?"]) {
  // The one line: user and thread come from `configurable`, the agent name from the graph.
  const config = attachTokenTracking({ configurable: { user_id: "alice", thread_id: "weather-chat" } }, { monitor });
  const result = await agent.invoke({ messages: [{ role: "user", content: question }] }, config);
  console.log(`${question} -> ${String(result.messages.at(-1)?.content)}`);
}

// LangChain runs callbacks in the background: wait for them, then for the writer.
await awaitAllCallbacks();
await monitor.flush();

const { records } = await monitor.getAllUsage({ threadId: "weather-chat", days: 1 });
for (const r of records.reverse()) {
  console.log(`  ${r.timestamp}  ${r.userId}  ${r.agentName}  ${r.model}  in=${r.inputTokens} (cached ${r.cacheReadTokens}) out=${r.outputTokens}  ${usd(r.totalCost)}`);
}
const thread = await monitor.getThreadUsage("weather-chat");
console.log(`Thread weather-chat: ${thread.totalRequests} model calls, ${thread.totalTokens} tokens, ${usd(thread.totalCost)}`);
console.log(`By agent: ${JSON.stringify(thread.requestsByAgent)}`);
await monitor.close();
