/**
 * Aggregates of one user (a `userId` filter): served inside that user's partition,
 * from rollups where they can answer, from raw records otherwise.
 */
import type { AggregateQuery, AggregateRow } from "../types.js";
import { aggregateInMemory } from "../types.js";
import type { CosmosContext } from "./context.js";
import { fromUsageDocument } from "./documents.js";
import { aggregateSourceQuery, rollupQuery } from "./queries.js";
import { aggregateRollups, rollupsCanAnswer, type RollupDocument } from "./rollups.js";

export async function aggregateUser(ctx: CosmosContext, query: AggregateQuery): Promise<AggregateRow[]> {
  const o = await ctx.open();
  const f = query.filter;
  if (rollupsCanAnswer(query)) {
    const docs = await ctx.queryAll<RollupDocument>(
      o.container,
      rollupQuery({ userId: f.userId, startHour: f.start?.slice(0, 13), endHour: f.end?.slice(0, 13) }),
      ctx.scope(o, f.userId),
    );
    return aggregateRollups(docs, query);
  }
  const docs = await ctx.queryAll(o.container, aggregateSourceQuery(f), ctx.scope(o, f.userId));
  return aggregateInMemory(docs.map(fromUsageDocument), query);
}
