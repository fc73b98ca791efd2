/**
 * `demo`: seeds a small, deterministic dataset through `trackUsage` (three users,
 * three models, two agents, the last two weeks) so `summary`, `serve` and the
 * dashboard have something to show. Ids are fixed per day and slot, so running it
 * again on the same day adds nothing.
 */
import type { Command } from "commander";
import type { UsageInput } from "../../record/build-record.js";
import { out, printJson, withMonitor } from "../context.js";

const MODELS = [
  { provider: "openai", model: "gpt-4o" },
  { provider: "openai", model: "gpt-4o-mini" },
  { provider: "anthropic", model: "claude-3-5-haiku-20241022" },
];
const USERS = ["alice@example.com", "bob@example.com", "carol@example.com"];
const AGENTS = ["researcher", "writer"];

/** A small linear congruential generator: the same numbers on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

export function demoInputs(now: Date, days = 14, perDay = 6): UsageInput[] {
  const random = prng(42);
  const inputs: UsageInput[] = [];
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  for (let d = 0; d < days; d++) {
    const dayLabel = new Date(today - d * 86_400_000).toISOString().slice(0, 10);
    for (let i = 0; i < perDay; i++) {
      const user = USERS[Math.floor(random() * USERS.length)];
      const model = MODELS[Math.floor(random() * MODELS.length)];
      const at = Math.min(now.getTime() - 1000, today - d * 86_400_000 + Math.floor(random() * 86_400_000));
      inputs.push({
        id: `demo-${dayLabel}-${i}`,
        userId: user,
        threadId: `thread-${user.split("@")[0]}-${1 + Math.floor(random() * 3)}`,
        agentName: AGENTS[Math.floor(random() * AGENTS.length)],
        ...model,
        inputTokens: 200 + Math.floor(random() * 4000),
        outputTokens: 50 + Math.floor(random() * 1200),
        timestamp: new Date(at).toISOString(),
        dimensions: { feature: random() < 0.5 ? "chat" : "search" },
      });
    }
  }
  return inputs;
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("seed a small demo dataset (three users, two weeks)")
    .option("--json", "machine-readable output")
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withMonitor(command, async (monitor) => {
        const inputs = demoInputs(new Date());
        let cost = 0;
        for (const input of inputs) cost += (await monitor.trackUsage(input)).totalCost;
        await monitor.flush();
        const result = { records: inputs.length, users: USERS, totalCost: cost };
        if (flags.json) printJson(result);
        else out(`seeded ${inputs.length} demo records for ${USERS.join(", ")} (cost $${cost.toFixed(4)})`);
      });
    });
}
