import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import {
  applicableLimits,
  budgetConfigFromEnv,
  loadBudgetConfigFile,
  normalizeLimit,
  subscriptionLimit,
} from "../../src/budget/index.js";

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).field;
  }
  throw new Error("expected a ValidationError");
}

describe("limit validation", () => {
  it("fills defaults", () => {
    expect(normalizeLimit({ scope: "global", metric: "cost", amount: 5 })).toEqual({
      id: "global:cost:day",
      scope: "global",
      metric: "cost",
      amount: 5,
      period: "day",
      timeZone: "UTC",
      resetTime: "00:00",
      thresholds: [0.8, 0.95, 1],
      mode: "warn",
    });
  });

  it.each([
    [{ scope: "global", metric: "cost", amount: -1 }, "amount"],
    [{ scope: "global", metric: "cost", amount: Number.NaN }, "amount"],
    [{ scope: "global", metric: "tokens", amount: 1.5 }, "amount"],
    [{ scope: "global", metric: "dollars", amount: 1 }, "metric"],
    [{ scope: "global", metric: "cost", amount: 1, period: "year" }, "period"],
    [{ scope: "global", metric: "cost", amount: 1, period: { rollingHours: 0 } }, "period.rollingHours"],
    [{ scope: "global", metric: "cost", amount: 1, timeZone: "Mars/Olympus" }, "timeZone"],
    [{ scope: "global", metric: "cost", amount: 1, resetTime: "9am" }, "resetTime"],
    [{ scope: "global", metric: "cost", amount: 1, thresholds: [0.8, 1.5] }, "thresholds[1]"],
    [{ scope: "global", metric: "cost", amount: 1, mode: "enforce" }, "mode"],
    [{ scope: "team:a", metric: "cost", amount: 1 }, "scope"],
    [{ scope: "global", metric: "cost", amount: 1, id: "has space" }, "id"],
    [{ scope: "global", metric: "cost", amount: 1, amout: 2 }, "amout"],
  ])("rejects %j naming %s", (input, field) => {
    expect(fieldOf(() => normalizeLimit(input))).toBe(field);
  });

  it("maps provider subscriptions to limits on their billing cycle", () => {
    expect(subscriptionLimit("anthropic", "max_plan_tokens", 5_000_000)).toMatchObject({
      id: "provider:anthropic:max_plan_tokens",
      scope: "provider:anthropic",
      metric: "tokens",
      period: "month",
    });
    expect(subscriptionLimit("openai", "prepaid_credits", 100, { billingCycle: "weekly" })).toMatchObject({ metric: "cost", period: "week" });
  });

  it("a user's own limit replaces the user:* default of the same metric and period", () => {
    const limits = [
      normalizeLimit({ scope: "user:*", metric: "cost", amount: 1 }),
      normalizeLimit({ scope: "user:*", metric: "tokens", amount: 1000 }),
      normalizeLimit({ scope: "user:alice", metric: "cost", amount: 5 }),
      normalizeLimit({ scope: "global", metric: "cost", amount: 50 }),
      normalizeLimit({ scope: "provider:openai", metric: "cost", amount: 20 }),
    ];
    expect(applicableLimits(limits, "alice", "openai").map((l) => l.id).sort()).toEqual([
      "global:cost:day",
      "provider:openai:cost:day",
      "user:*:tokens:day",
      "user:alice:cost:day",
    ]);
    expect(applicableLimits(limits, "bob", "anthropic").map((l) => l.id).sort()).toEqual(["global:cost:day", "user:*:cost:day", "user:*:tokens:day"]);
  });
});

describe("configuration", () => {
  it("reads global limits and the enforcement mode from the environment", () => {
    const config = budgetConfigFromEnv({ DAILY_TOKEN_BUDGET: "200000", DAILY_COST_BUDGET: "5.00", MONTHLY_COST_BUDGET: "100", BUDGET_ENFORCEMENT: "block" });
    expect(config.mode).toBe("block");
    expect(config.enabled).toBe(true);
    expect(config.limits.map((l) => [l.id, l.metric, l.amount, l.period, l.mode])).toEqual([
      ["env:daily-tokens", "tokens", 200000, "day", "block"],
      ["env:daily-cost", "cost", 5, "day", "block"],
      ["env:monthly-cost", "cost", 100, "month", "block"],
    ]);
    expect(budgetConfigFromEnv({ BUDGET_ENFORCEMENT: "false", USAGE_TRACKING_ENABLED: "false" })).toMatchObject({ mode: "warn", enabled: false, limits: [] });
  });

  it("names the env variable that is wrong", () => {
    expect(fieldOf(() => budgetConfigFromEnv({ DAILY_COST_BUDGET: "five" }))).toBe("DAILY_COST_BUDGET");
    expect(fieldOf(() => budgetConfigFromEnv({ DAILY_TOKEN_BUDGET: "-3" }))).toBe("DAILY_TOKEN_BUDGET");
    expect(fieldOf(() => budgetConfigFromEnv({ BUDGET_ENFORCEMENT: "maybe" }))).toBe("BUDGET_ENFORCEMENT");
    expect(fieldOf(() => budgetConfigFromEnv({ DAILY_COST_BUDGET: "1", BUDGET_TIME_ZONE: "Nowhere/Land" }))).toBe("BUDGET_TIME_ZONE");
  });

  it("loads per-user limits, subscriptions and alert settings from a JSON file", () => {
    const dir = mkdtempSync(join(tmpdir(), "budget-config-"));
    const path = join(dir, "budget.json");
    writeFileSync(
      path,
      JSON.stringify({
        enforcement: "block",
        timeZone: "Europe/Paris",
        users: { "*": [{ metric: "cost", amount: 1 }], alice: [{ metric: "cost", amount: 5, resetTime: "09:00" }] },
        subscription_limits: {
          anthropic: { max_plan_tokens: 5000000, billing_cycle: "monthly" },
          openai: { prepaid_credits: 100, monthly_limit: 0 },
          gemini: { free_tier_tokens: 1000000, paid_tier_tokens: 0 },
        },
        alerts: { warn_at_percentage: 70, critical_at_percentage: 90, webhook: "http://127.0.0.1:9/hook" },
      }),
    );
    const config = loadBudgetConfigFile(path);
    expect(config.mode).toBe("block");
    expect(config.webhook).toEqual({ url: "http://127.0.0.1:9/hook" });
    const byId = Object.fromEntries(config.limits.map((l) => [l.id, l]));
    expect(Object.keys(byId).sort()).toEqual([
      "provider:anthropic:max_plan_tokens",
      "provider:gemini:free_tier_tokens",
      "provider:openai:prepaid_credits",
      "user:*:cost:day",
      "user:alice:cost:day",
    ]);
    expect(byId["user:alice:cost:day"]).toMatchObject({ amount: 5, timeZone: "Europe/Paris", resetTime: "09:00", mode: "block", thresholds: [0.7, 0.9, 1] });
    expect(byId["provider:openai:prepaid_credits"]).toMatchObject({ metric: "cost", amount: 100, period: "month" });

    writeFileSync(path, JSON.stringify({ users: { bob: [{ metric: "cost", amount: -2 }] } }));
    expect(fieldOf(() => loadBudgetConfigFile(path))).toBe("users.bob[0].amount");
    writeFileSync(path, JSON.stringify({ subscription_limits: { openai: { prepaid_credit: 5 } } }));
    expect(fieldOf(() => loadBudgetConfigFile(path))).toBe("subscription_limits.openai.prepaid_credit");
    writeFileSync(path, JSON.stringify({ budgets: {} }));
    expect(fieldOf(() => loadBudgetConfigFile(path))).toBe("budgets");
  });
});
