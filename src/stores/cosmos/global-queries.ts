/**
 * Aggregates without a user filter (the application-wide views): today they read
 * the hour rollups of every user (legacy and incremental layouts) where rollups can answer, raw records otherwise.
 */
import type { AggregateQuery, AggregateRow } from "../types.js";
import { aggregateInMemory } from "../types.js";
import type { CosmosContext } from "./context.js";
import { fromUsageDocument } from "./documents.js";
import { aggregateSourceQuery, rollupQuery } from "./queries.js";
import { asRollupDocument } from "./rollup-docs.js";
import { aggregateRollups, rollupsCanAnswer } from "./rollups.js";

export async function aggregateGlobal(ctx: CosmosContext, query: AggregateQuery): Promise<AggregateRow[]> {
  const o = await ctx.open();
  const f = query.filter;
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
