/**
 * Per-user and per-thread statistics: several users with several threads each,
 * then `getUserUsage`, `getThreadUsage` and `getTopUsers`. Day boundaries follow
 * the `timeZone` option: a call at 23:30 UTC belongs to the next day in Tokyo.
 *
 * Run: npx tsx examples/per-user-statistics.ts
 */
import { createTokenMonitor } from "../src/index.js";
import { exampleDbPath, usd } from "./lib/example-db.js";

const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: exampleDbPath("per-user") });

// Calls two and three days ago, at fixed UTC hours, so the output is the same on every run.
const today = new Date(new Date().toISOString().slice(0, 10) + "T00:00:00Z").getTime();
const at = (daysAgo: number, utcHour: number) => new Date(today - daysAgo * 86_400_000 + utcHour * 3_600_000);
const calls = [
  { userId: "alice", threadId: "alice-trip", model: "gpt-4o", inputTokens: 2400, outputTokens: 600, timestamp: at(3, 9) },
  { userId: "alice", threadId: "alice-trip", model: "gpt-4o", inputTokens: 3100, outputTokens: 450, timestamp: at(3, 23.5) },
  { userId: "alice", threadId: "alice-code", model: "gpt-4o-mini", inputTokens: 5200, outputTokens: 900, timestamp: at(2, 14) },
  { userId: "bob", threadId: "bob-support", model: "gpt-4o-mini", inputTokens: 800, outputTokens: 150, timestamp: at(2, 8) },
  { userId: "bob", threadId: "bob-support", model: "gpt-4o-mini", inputTokens: 950, outputTokens: 210, timestamp: at(2, 8.2) },
  { userId: "carol", threadId: "carol-report", model: "gpt-4o", inputTokens: 12000, outputTokens: 2500, timestamp: at(2, 16) },
];
for (const call of calls) await monitor.trackUsage({ provider: "openai", agentName: "assistant", ...call });
await monitor.flush();

console.log("Per user, last 7 days");
for (const user of ["alice", "bob", "carol"]) {
  const s = await monitor.getUserUsage(user, { days: 7 });
  console.log(`  ${user.padEnd(6)} ${s.totalRequests} calls  ${String(s.totalTokens).padStart(6)} tokens  ${usd(s.totalCost)}  models=${Object.keys(s.costByModel).join(",")}`);
}

console.log("Per thread (its whole life)");
for (const thread of ["alice-trip", "alice-code", "bob-support", "carol-report"]) {
  const t = await monitor.getThreadUsage(thread);
  console.log(`  ${thread.padEnd(13)} ${t.totalRequests} calls  ${usd(t.totalCost)}  first ${t.firstSeen}`);
}

const top = await monitor.getTopUsers({ days: 7, limit: 2 });
console.log(`Top 2 users by cost: ${top.map((u) => `${u.key} (${usd(u.totalCost)})`).join(", ")}`);

// The same calls of alice, bucketed into days in two time zones.
for (const timeZone of ["UTC", "Asia/Tokyo"]) {
  const s = await monitor.getUserUsage("alice", { days: 7, timeZone });
  const days = s.costTrend.filter((p) => p.requests > 0).map((p) => `${p.date}: ${p.requests} calls`);
  console.log(`alice per day in ${timeZone}: ${days.join("; ")}`);
}
await monitor.close();
