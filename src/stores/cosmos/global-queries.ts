/**
 * Aggregates without a user filter (the application-wide views). Where the global
 * rollups can answer (no user, thread or dimension grouping) and the consumer has
 * built them (the lease is `ready`), they are read: documents read depend on the range,
 * not on the fleet (global/reads.ts); a view grouped by one dimension reads the global
 * dimension documents the same way (global/dim-reads.ts). Otherwise the hour rollups of every user (legacy
 * and incremental layouts) where rollups can answer, raw records elsewhere.
 */
import type { AggregateQuery, AggregateRow } from "../types.js";
import { aggregateInMemory } from "../types.js";
import type { CosmosContext } from "./context.js";
import { fromUsageDocument } from "./documents.js";
import { readLease } from "./global/lease.js";
import { aggregateFromDims, dimensionOf } from "./global/dim-reads.js";
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
  const dimension = ctx.cfg.globalRollups ? dimensionOf(query) : undefined;
  if (dimension !== undefined) {
    const lease = await readLease(ctx, o);
    if (lease?.ready && lease.dims) return aggregateFromDims(ctx, o, lease, query, dimension);
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
