/**
 * Reading the container's change feed (pull model, latest-version mode), one page at a
 * time from a continuation the lease holds. A fresh iterator per page: the position is
 * the lease's, never an iterator's, so any replica can take over from where the last
 * commit left off. `ChangeFeedStartFrom` comes from the client's own SDK copy (see
 * `CosmosContext.sdk`).
 */
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { withRetry } from "../retry.js";

export interface FeedPage {
  items: Array<Record<string, unknown>>;
  /** Where the page ends: the continuation to store once it is folded. */
  continuation: string;
  /** True when the feed had nothing after the position (HTTP 304). */
  empty: boolean;
}

export async function readFeedPage(
  ctx: CosmosContext,
  o: OpenedContainer,
  continuation: string | null,
  maxItemCount: number,
): Promise<FeedPage> {
  const { ChangeFeedStartFrom } = await ctx.sdk();
  return withRetry("change feed read", ctx.policy, async () => {
    const it = o.container.items.getChangeFeedIterator<Record<string, unknown>>({
      changeFeedStartFrom: continuation ? ChangeFeedStartFrom.Continuation(continuation) : ChangeFeedStartFrom.Beginning(),
      maxItemCount,
    });
    const res = await it.readNext();
    ctx.metrics.changeFeedPages++;
    const items = res.result ?? [];
    ctx.metrics.documentsRead += items.length;
    return { items, continuation: res.continuationToken ?? continuation ?? "", empty: res.statusCode === 304 || items.length === 0 };
  });
}
