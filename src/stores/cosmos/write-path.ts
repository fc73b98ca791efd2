/**
 * The write path: records are grouped by partition (one user, or one user-month on
 * a hierarchical container) and each partition is written by transactional batches
 * that carry the records and their rollup increments together (batch-writer.ts).
 * The cost per record is constant: it does not grow with the hour, the user or the fleet.
 */
import type { UsageRecord } from "../../record/types.js";
import type { AppendResult } from "../types.js";
import { writePartition } from "./batch-writer.js";
import { mapLimitSettled } from "./concurrency.js";
import type { CosmosContext } from "./context.js";
import { validateRecord } from "./validation.js";

const PARTITION_CONCURRENCY = 8;

export async function appendRecords(ctx: CosmosContext, records: UsageRecord[]): Promise<AppendResult> {
  records.forEach(validateRecord);
  const o = await ctx.open();
  if (records.length === 0) return { inserted: 0, duplicates: 0 };
  const byPartition = new Map<string, { pk: string | string[]; records: UsageRecord[] }>();
  for (const r of records) {
    const pk = ctx.pk(o, r.userId, r.timestamp.slice(0, 7));
    const k = JSON.stringify(pk);
    const slot = byPartition.get(k);
    if (slot) slot.records.push(r);
    else byPartition.set(k, { pk, records: [r] });
  }
  // A failed partition stops the others from starting, and append returns only once none is in flight.
  const results = await mapLimitSettled([...byPartition.values()], PARTITION_CONCURRENCY, (p) =>
    writePartition(ctx, o, p.pk, p.records),
  );
  return results.reduce<AppendResult>(
    (a, b) => ({ inserted: a.inserted + b.inserted, duplicates: a.duplicates + b.duplicates }),
    { inserted: 0, duplicates: 0 },
  );
}
