/**
 * `set-limit <scope> <limit-type> <value>` and `remove-limit <id>`.
 * The limit type is `<period>-<metric>` (`daily-cost`, `monthly-tokens`, ...) or
 * just the metric (a daily limit). Scopes: global, user:*, user:<id>, provider:<name>.
 */
import type { Command } from "commander";
import { ValidationError } from "../../errors.js";
import { closeBudget, openBudget } from "../budget.js";
import { out, printJson, withMonitor } from "../context.js";

const PERIODS: Record<string, string> = {
  minute: "minute",
  hourly: "hour",
  hour: "hour",
  daily: "day",
  day: "day",
  weekly: "week",
  week: "week",
  monthly: "month",
  month: "month",
};
const METRICS = new Set(["cost", "tokens", "requests"]);

export function parseLimitType(type: string): { period: string; metric: "cost" | "tokens" | "requests" } {
  const [first, second] = type.toLowerCase().split("-");
  const [period, metric] = second === undefined ? ["day", first] : [PERIODS[first], second];
  if (!period || !METRICS.has(metric)) {
    throw new ValidationError("limit-type", `must be <minute|hourly|daily|weekly|monthly>-<cost|tokens|requests> or cost|tokens|requests, got ${JSON.stringify(type)}`);
  }
  return { period, metric: metric as "cost" | "tokens" | "requests" };
}

export function parseAmount(value: string, metric: "cost" | "tokens" | "requests"): number {
  const amount = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(amount) || amount <= 0) {
    throw new ValidationError("value", `must be a positive number, got ${JSON.stringify(value)}`);
  }
  if (metric !== "cost" && !Number.isInteger(amount)) throw new ValidationError("value", `a ${metric === "tokens" ? "token" : "request"} limit must be a whole number`);
  return amount;
}

async function requireBudget(monitor: Parameters<typeof openBudget>[0]) {
  const budget = await openBudget(monitor);
  if (!budget) throw new Error("budgets are not available in this build of token-usage");
  return budget;
}

export function registerLimits(program: Command): void {
  program
    .command("set-limit")
    .description("create or replace a budget limit")
    .argument("<scope>", "global, user:*, user:<id>, provider:<name>, agent:<name>|*, model:<name>|*, dimension:<name>=<value>|*")
    .argument("<limit-type>", "daily-cost, weekly-tokens, minute-requests, hourly-tokens, ... (or cost|tokens|requests for daily)")
    .argument("<value>", "USD for cost, a whole number for tokens")
    .option("--mode <mode>", "warn or block (default: BUDGET_ENFORCEMENT or the budget config file, else warn)")
    .option("--id <id>", "limit id (default derived from scope, metric and period)")
    .option("--time-zone <zone>", "IANA zone in which periods start")
    .option("--json", "machine-readable output")
    .action(async (scope: string, type: string, value: string, flags: { mode?: string; id?: string; timeZone?: string; json?: boolean }, command: Command) => {
      const { period, metric } = parseLimitType(type);
      const amount = parseAmount(value, metric);
      if (flags.mode !== undefined && flags.mode !== "warn" && flags.mode !== "block") {
        throw new ValidationError("mode", `must be warn or block, got ${JSON.stringify(flags.mode)}`);
      }
      // Without --mode the guard applies the configured mode (BUDGET_ENFORCEMENT, config file).
      const limit: Record<string, unknown> = { scope, metric, amount, period };
      if (flags.mode !== undefined) limit.mode = flags.mode;
      if (flags.id) limit.id = flags.id;
      if (flags.timeZone) limit.timeZone = flags.timeZone;
      await withMonitor(command, async (monitor) => {
        const budget = await requireBudget(monitor);
        try {
          const saved = (await budget.setLimit(limit)) ?? limit;
          if (flags.json) printJson(saved);
          else out(`limit set (mode ${String((saved as { mode?: unknown }).mode)}): ${JSON.stringify(saved)}`);
        } finally {
          await closeBudget(budget);
        }
      });
    });

  program
    .command("remove-limit")
    .description("remove a budget limit")
    .argument("<id>", "the limit id (see `status --json`)")
    .action(async (id: string, _flags: unknown, command: Command) => {
      await withMonitor(command, async (monitor) => {
        const budget = await requireBudget(monitor);
        try {
          const removed = await budget.removeLimit(id);
          if (removed === false) throw new ValidationError("id", `no budget limit with id ${JSON.stringify(id)}`);
          out(`limit removed: ${id}`);
        } finally {
          await closeBudget(budget);
        }
      });
    });
}
