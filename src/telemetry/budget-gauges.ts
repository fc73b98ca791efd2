/**
 * Budget usage as observable gauges, read when the MeterProvider collects (not on any
 * call's path). Only limits shared by the whole application are observed (global,
 * provider subscriptions, and `user:*` templates without a user): per-user windows
 * would be one series per user.
 */
import type { Meter, ObservableGauge } from "@opentelemetry/api";
import type { BudgetStatus } from "../budget/index.js";

/** The fields of a budget status the gauges (and `/metrics`) report. */
export type BudgetStatusLike = Pick<BudgetStatus, "limitId" | "scope" | "metric" | "used" | "limit" | "fractionUsed">;

/** What the gauges read: the budget guard, or anything with its `getBudgetStatus`. */
export interface BudgetStatusSource {
  getBudgetStatus(): Promise<BudgetStatusLike[]>;
}

/** Registers the gauges on `meter`; returns the function that removes them. */
export function registerBudgetGauges(meter: Meter, source: BudgetStatusSource, onError: (error: unknown) => void): () => void {
  const utilization = meter.createObservableGauge("token_tracking.budget.utilization", {
    description: "Budget used over its limit in the current window (1 = exhausted)",
    unit: "1",
  });
  const used: Record<BudgetStatusLike["metric"], ObservableGauge> = {
    tokens: meter.createObservableGauge("token_tracking.budget.used_tokens", { description: "Tokens used in the current budget window", unit: "{token}" }),
    cost: meter.createObservableGauge("token_tracking.budget.used_cost", { description: "USD used in the current budget window", unit: "USD" }),
    requests: meter.createObservableGauge("token_tracking.budget.used_requests", { description: "Calls made in the current budget window", unit: "{request}" }),
  };
  const limit: Record<BudgetStatusLike["metric"], ObservableGauge> = {
    tokens: meter.createObservableGauge("token_tracking.budget.limit_tokens", { description: "Token limit of a budget", unit: "{token}" }),
    cost: meter.createObservableGauge("token_tracking.budget.limit_cost", { description: "USD limit of a budget", unit: "USD" }),
    requests: meter.createObservableGauge("token_tracking.budget.limit_requests", { description: "Request limit of a budget", unit: "{request}" }),
  };
  const observables = [utilization, used.tokens, used.cost, used.requests, limit.tokens, limit.cost, limit.requests];
  const callback = async (result: { observe(metric: ObservableGauge, value: number, attributes?: Record<string, string>): void }) => {
    let statuses: BudgetStatusLike[];
    try {
      statuses = await source.getBudgetStatus();
    } catch (error) {
      onError(error); // a store outage leaves the gauges without a point, never throws into the SDK
      return;
    }
    for (const s of statuses) {
      const attrs = { "token_tracking.budget.id": s.limitId, "token_tracking.budget.scope": s.scope };
      result.observe(utilization, s.fractionUsed, attrs);
      result.observe(used[s.metric], s.used, attrs);
      result.observe(limit[s.metric], s.limit, attrs);
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
