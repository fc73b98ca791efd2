/**
 * Reading the container's change feed (pull model, latest-version mode) from a
 * continuation the lease holds. A fresh iterator per consumer step: the position is the
 * lease's, never an iterator's, so any replica can take over from where the last commit
 * left off. Within a step, one iterator: on a container with several physical partitions
 * the SDK reads one feed range per page and answers 304 only once every range has nothing
 * new, so the end of the feed is a 304, never a short page. `ChangeFeedStartFrom` comes
 * from the client's own SDK copy (see `CosmosContext.sdk`).
 */
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { ValidationError } from "../../../errors.js";
import { withRetry } from "../retry.js";

export interface FeedPage {
  items: Array<Record<string, unknown>>;
  /** Where the page ends: the continuation to store once it is folded. */
  continuation: string;
  /** True when the feed had nothing new in any range (HTTP 304). */
  empty: boolean;
}

export interface FeedReader {
  next(): Promise<FeedPage>;
}

export async function openFeed(
  ctx: CosmosContext,
  o: OpenedContainer,
  continuation: string | null,
  maxItemCount: number,
): Promise<FeedReader> {
  const { ChangeFeedStartFrom } = await ctx.sdk();
  const it = o.container.items.getChangeFeedIterator<Record<string, unknown>>({
    changeFeedStartFrom: continuation ? ChangeFeedStartFrom.Continuation(continuation) : ChangeFeedStartFrom.Beginning(),
    maxItemCount,
  });
  let last = continuation ?? "";
  return {
    next: () =>
      withRetry("change feed read", ctx.policy, async () => {
        const res = await it.readNext().catch((err: unknown) => {
          throw foreignStartPosition(err) ?? err;
        });
        ctx.metrics.changeFeedPages++;
        const items = res.result ?? [];
        ctx.metrics.documentsRead += items.length;
        last = res.continuationToken ?? last;
        return { items, continuation: last, empty: res.statusCode === 304 || items.length === 0 };
      }),
  };
}

/**
 * SDK 4.10+ refuses a start position built by another copy of `@azure/cosmos` with a bare
 * "Invalid change feed start location.": say what it means and what to pass instead.
 */
function foreignStartPosition(err: unknown): ValidationError | undefined {
  if (!/invalid change feed start location/i.test((err as Error)?.message ?? "")) return undefined;
  return new ValidationError(
    "sdk",
    "the Cosmos client given to the store comes from another copy of @azure/cosmos than the one this package loaded, " +
      'and the SDK refuses the change feed position built with it: pass that copy as the store\'s `sdk` option (import * as cosmos from "@azure/cosmos"; { client, sdk: cosmos })',
    { cause: err },
  );
}
