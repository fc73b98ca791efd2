/**
 * Re-pricing stored records: each record's costs are rewritten and the difference moved in
 * every rollup, leaderboard table and window it counts in, in one IMMEDIATE transaction, so
 * a re-pricing run is idempotent and the rollups never disagree with the records.
 */
import type Database from "better-sqlite3";
import type { CostUpdate } from "../types.js";
import { costAdjusters, type PricedRow } from "./rollups.js";
import type { SpanWindows } from "./span-windows.js";

/** Applies `updates`; returns how many records changed (an unchanged cost is skipped). */
export function applyCostUpdates(
  db: Database.Database,
  windows: SpanWindows,
  statement: (sql: string) => Database.Statement,
  updates: CostUpdate[],
): number {
  const read = statement(
    `SELECT user_id, thread_id, substr(timestamp, 1, 13) AS hour, day, provider, model, agent_name, operation_type,
       total_cost_nanos, priced FROM usage_records WHERE id = ? AND user_id = ?`,
  );
  const write = statement(
    `UPDATE usage_records SET input_cost_nanos = @inputCostNanos, output_cost_nanos = @outputCostNanos,
      total_cost_nanos = @totalCostNanos, input_cost = @inputCostNanos / 1e9, output_cost = @outputCostNanos / 1e9,
      total_cost = @totalCostNanos / 1e9, priced = @priced, price_source = @priceSource
     WHERE id = @id AND user_id = @userId`,
  );
  const adjust = costAdjusters(db, windows);
  const tx = db.transaction((list: CostUpdate[]) => {
    let changed = 0;
    for (const u of list) {
      const old = read.get(u.id, u.userId) as (PricedRow & { total_cost_nanos: number; priced: number }) | undefined;
      if (!old) continue;
      const priced = u.priced ? 1 : 0;
      if (old.total_cost_nanos === u.totalCostNanos && old.priced === priced) continue;
      write.run({ ...u, priced });
      adjust(old, u.totalCostNanos - old.total_cost_nanos, old.priced - priced);
      changed++;
    }
    return changed;
  });
  return tx.immediate(updates);
}
