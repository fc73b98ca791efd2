/**
 * The write path: records go in through the bulk API with bounded retries, then
 * each touched user-hour's rollup is recomputed (see rollups.ts).
 */
import type { OperationInput } from "@azure/cosmos";
import { StoreError } from "../../errors.js";
import type { UsageRecord } from "../../record/types.js";
import type { AppendResult } from "../types.js";
import { chunk } from "./concurrency.js";
import type { CosmosContext } from "./context.js";
import { toUsageDocument } from "./documents.js";
import { recomputeHours } from "./maintenance.js";
import { bulkWithRetry } from "./bulk.js";
import { validateRecord } from "./validation.js";

export async function appendRecords(ctx: CosmosContext, records: UsageRecord[]): Promise<AppendResult> {
  records.forEach(validateRecord);
  const o = await ctx.open();
  if (records.length === 0) return { inserted: 0, duplicates: 0 };
  const ops: OperationInput[] = records.map((r) => ({
    operationType: "Create",
    partitionKey: ctx.pk(o, r.userId, r.timestamp.slice(0, 7)),
    resourceBody: toUsageDocument(r) as never,
  }));
  let inserted = 0;
  let duplicates = 0;
  for (const part of chunk(ops, ctx.cfg.bulkBatchSize)) {
    const statuses = await bulkWithRetry(ctx, o.container, part, "append");
    for (const s of statuses) {
      if (s === 201) inserted++;
      else if (s === 409) duplicates++;
      else throw new StoreError(`Cosmos DB refused a usage record with status ${s}`);
    }
  }
  // Replays (409) recompute too: their first attempt may have died before doing it.
  await recomputeHours(ctx, o, records.map((r) => [r.userId, r.timestamp.slice(0, 13)]));
  return { inserted, duplicates };
}

