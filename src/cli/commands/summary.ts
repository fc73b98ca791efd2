/**
 * `summary`: totals and cost by model, agent and user, for everyone or one user. The
 * header gives the range as wall-clock times in `--time-zone` (default UTC).
 */
import type { Command } from "commander";
import { MAX_PAGE_SIZE } from "../../query/usage-queries.js";
import { out, printJson, withMonitor } from "../context.js";
import { count, table, usd, zonedTime } from "../output.js";
import { addRangeOptions, rangeFrom, type RangeFlags } from "../range-options.js";

/** Users shown in the table; `--json` lists them all (up to the page size). */
const USERS_SHOWN = 10;

export function registerSummary(program: Command): void {
  addRangeOptions(program.command("summary").description("usage totals, by model, by agent and by user"), 30)
    .option("--user <id>", "only this user")
    .option("--json", "machine-readable output")
    .action(async (flags: RangeFlags & { user?: string; json?: boolean }, command: Command) => {
      const range = rangeFrom(flags);
      await withMonitor(command, async (monitor) => {
        const stats = flags.user ? await monitor.getUserUsage(flags.user, range) : await monitor.getOverallUsage(range);
        const users = flags.user ? [] : await monitor.getTopUsers({ ...range, limit: MAX_PAGE_SIZE });
        const byUser = users.map((u) => ({ userId: u.key, requests: u.totalRequests, tokens: u.totalTokens, cost: u.totalCost, costNanos: u.totalCostNanos }));
        if (flags.json) return printJson(flags.user ? { userId: flags.user, ...stats } : { ...stats, byUser });
        const zone = stats.range.timeZone;
        out(`Usage ${flags.user ? `of ${flags.user} ` : ""}from ${zonedTime(stats.range.start, zone)} to ${zonedTime(stats.range.end, zone)} (${zone})`);
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
        if (byUser.length === 0) return;
        out(table(["User", "Requests", "Tokens", "Cost"], byUser.slice(0, USERS_SHOWN).map((u) => [u.userId ?? "(none)", count(u.requests), count(u.tokens), usd(u.cost)])));
        if (byUser.length > USERS_SHOWN) out(`… and ${byUser.length - USERS_SHOWN} more users (--json lists them all)`);
      });
    });
}
