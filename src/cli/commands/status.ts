/** `status`: today's and this month's usage (UTC), and budget status when budgets are available. */
import type { Command } from "commander";
import { closeBudget, openBudget } from "../budget.js";
import { out, printJson, withMonitor } from "../context.js";
import { count, table, usd } from "../output.js";

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("today's and this month's usage, and budget status")
    .option("--user <id>", "only this user")
    .option("--json", "machine-readable output")
    .action(async (flags: { user?: string; json?: boolean }, command: Command) => {
      await withMonitor(command, async (monitor) => {
        const now = new Date();
        const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
        const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
        const end = new Date(now.getTime() + 1);
        const [today, month] = await Promise.all(
          [dayStart, monthStart].map((start) => monitor.getOverallUsage({ start, end, userId: flags.user })),
        );
        const budget = await openBudget(monitor);
        let budgetStatus: unknown = null;
        try {
          // Without --user: the limits that count everyone (global, provider, one agent/model/tenant), with their usage.
          // Reading status never claims or sends alerts: those belong to the application's onAlert and webhook.
          budgetStatus = budget ? await budget.getBudgetStatus(flags.user) : null;
        } finally {
          await closeBudget(budget);
        }
        const brief = (s: typeof today) => ({ requests: s.totalRequests, tokens: s.totalTokens, cost: s.totalCost, costNanos: s.totalCostNanos });
        if (flags.json) {
          return printJson({ userId: flags.user ?? null, today: brief(today), month: brief(month), budgets: budget ? budgetStatus : null });
        }
        out(
          table(
            ["Period", "Requests", "Tokens", "Cost"],
            [
              [`today (${dayStart.toISOString().slice(0, 10)} UTC)`, count(today.totalRequests), count(today.totalTokens), usd(today.totalCost)],
              [`this month (${monthStart.toISOString().slice(0, 7)})`, count(month.totalRequests), count(month.totalTokens), usd(month.totalCost)],
            ],
          ),
        );
        if (!budget) out("Budgets: not available in this build.");
        else printBudgets(budgetStatus);
      });
    });
}

function printBudgets(value: unknown): void {
  const rows = Array.isArray(value) ? (value as Array<Record<string, unknown>>) : [];
  if (rows.length === 0) return out("Budgets: no limits set.");
  out(
    table(
      ["Limit", "Scope", "Period", "Used", "In flight", "Limit value", "Mode", "State"],
      rows.map((r) => [
        String(r.limitId),
        String(r.scope),
        typeof r.period === "string" ? r.period : JSON.stringify(r.period),
        String(r.used),
        String(r.inFlight),
        String(r.limit),
        String(r.mode),
        String(r.state),
      ]),
      3,
    ),
  );
}
