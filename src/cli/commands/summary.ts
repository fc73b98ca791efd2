/** `summary`: totals and cost by model and agent, for everyone or one user. */
import type { Command } from "commander";
import { out, printJson, withMonitor } from "../context.js";
import { count, table, usd } from "../output.js";
import { addRangeOptions, rangeFrom, type RangeFlags } from "../range-options.js";

export function registerSummary(program: Command): void {
  addRangeOptions(program.command("summary").description("usage totals, by model and by agent"), 30)
    .option("--user <id>", "only this user")
    .option("--json", "machine-readable output")
    .action(async (flags: RangeFlags & { user?: string; json?: boolean }, command: Command) => {
      await withMonitor(command, async (monitor) => {
        const range = rangeFrom(flags);
        const stats = flags.user ? await monitor.getUserUsage(flags.user, range) : await monitor.getOverallUsage(range);
        if (flags.json) return printJson(flags.user ? { userId: flags.user, ...stats } : stats);
        out(`Usage ${flags.user ? `of ${flags.user} ` : ""}from ${stats.range.start} to ${stats.range.end}`);
        out(
          table(
            ["Requests", "Input tokens", "Output tokens", "Total tokens", "Cost", "Unpriced", "Errors"],
            [[count(stats.totalRequests), count(stats.totalInputTokens), count(stats.totalOutputTokens), count(stats.totalTokens), usd(stats.totalCost), count(stats.unpricedRequests), count(stats.errorCount)]],
            0,
          ),
        );
        if (stats.totalRequests === 0) return out("No usage in this range.");
        const models = Object.keys(stats.costByModel).sort((a, b) => stats.costByModel[b] - stats.costByModel[a]);
        out(table(["Model", "Requests", "Tokens", "Cost"], models.map((m) => [m, count(stats.requestsByModel[m]), count(stats.tokensByModel[m]), usd(stats.costByModel[m])])));
        const agents = Object.keys(stats.costByAgent).sort((a, b) => stats.costByAgent[b] - stats.costByAgent[a]);
        out(table(["Agent", "Requests", "Cost"], agents.map((a) => [a, count(stats.requestsByAgent[a]), usd(stats.costByAgent[a])])));
      });
    });
}
