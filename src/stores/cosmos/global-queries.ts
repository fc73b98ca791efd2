/**
 * Aggregates without a user filter (the application-wide views). Where the global
 * rollups can answer (no user, thread or dimension grouping) and the consumer has
 * built them (the lease is `ready`), they are read: documents read depend on the range,
 * not on the fleet (global/reads.ts). Otherwise the hour rollups of every user (legacy
 * and incremental layouts) where rollups can answer, raw records elsewhere.
 */
import type { AggregateQuery, AggregateRow } from "../types.js";
import { aggregateInMemory } from "../types.js";
import type { CosmosContext } from "./context.js";
import { fromUsageDocument } from "./documents.js";
import { readLease } from "./global/lease.js";
import { aggregateFromGlobalRollups, globalRollupsCanAnswer } from "./global/reads.js";
import { aggregateSourceQuery, rollupQuery } from "./queries.js";
import { asRollupDocument } from "./rollup-docs.js";
import { aggregateRollups, rollupsCanAnswer } from "./rollups.js";

export async function aggregateGlobal(ctx: CosmosContext, query: AggregateQuery): Promise<AggregateRow[]> {
  const o = await ctx.open();
  const f = query.filter;
  if (ctx.cfg.globalRollups && globalRollupsCanAnswer(query)) {
    const lease = await readLease(ctx, o);
    if (lease?.ready) return aggregateFromGlobalRollups(ctx, o, lease, query);
  }
  if (rollupsCanAnswer(query)) {
    const docs = await ctx.queryAll(
      o.container,
      rollupQuery({ startHour: f.start?.slice(0, 13), endHour: f.end?.slice(0, 13) }),
    );
    return aggregateRollups(docs.map(asRollupDocument), query);
  }
  const docs = await ctx.queryAll(o.container, aggregateSourceQuery(f));
  return aggregateInMemory(docs.map(fromUsageDocument), query);
}
