/**
 * Building the global rollups of an existing container from scratch (part of
 * `rebuildRollups()`): a new epoch (one lease write), a drain from the beginning of the
 * change feed (the latest version of every record, marked or not, since the marks name
 * older epochs), then the older epochs' documents are deleted. Idempotent: running it
 * again builds the same totals under the next epoch.
 */
import type { OperationInput } from "@azure/cosmos";
import { StoreError } from "../../../errors.js";
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { MAX_BATCH_OPERATIONS, sendGlobalBatch } from "./batch.js";
import type { GlobalConsumer } from "./consumer.js";
import { resetEpoch } from "./intents.js";
import { DIMS_DAY_TYPE, DIMS_HOUR_TYPE } from "./dim-docs.js";
import { GLOBAL_DAY_TYPE, GLOBAL_HOUR_TYPE, GLOBAL_PARTITION, THREAD_DAY_TYPE, USER_DAY_TYPE, WINDOW_TYPE } from "./layout.js";
import { globalPk } from "./batch.js";

export async function rebuildGlobalRollups(ctx: CosmosContext, o: OpenedContainer, consumer: GlobalConsumer): Promise<void> {
  const epoch = await resetEpoch(ctx, o);
  if (!(await consumer.drainNow({ maxSteps: Number.MAX_SAFE_INTEGER }))) {
    throw new StoreError("global rollups: the rebuild could not finish folding the change feed (a maintenance lock held too long?); run it again");
  }
  const stale = await ctx.queryAll<{ id: string; _etag?: string }>(
    o.container,
    {
      query: "SELECT c.id, c._etag FROM c WHERE c.user_id = @partition AND c.type IN (@hour, @day, @userDay, @threadDay, @window, @dimsHour, @dimsDay) AND c.epoch < @epoch",
      parameters: [
        { name: "@partition", value: GLOBAL_PARTITION },
        { name: "@hour", value: GLOBAL_HOUR_TYPE },
        { name: "@day", value: GLOBAL_DAY_TYPE },
        { name: "@userDay", value: USER_DAY_TYPE },
        { name: "@threadDay", value: THREAD_DAY_TYPE },
        { name: "@window", value: WINDOW_TYPE },
        { name: "@dimsHour", value: DIMS_HOUR_TYPE },
        { name: "@dimsDay", value: DIMS_DAY_TYPE },
        { name: "@epoch", value: epoch },
      ],
    },
    { partitionKey: globalPk(ctx, o) },
  );
  for (let i = 0; i < stale.length; i += MAX_BATCH_OPERATIONS) {
    const ops: OperationInput[] = stale.slice(i, i + MAX_BATCH_OPERATIONS).map((d) => ({ operationType: "Delete", id: d.id }));
    // A document another rebuild deleted first fails the batch (404): nobody reads these, retry once on what is left.
    if ((await sendGlobalBatch(ctx, o, ops, "the clean-up of older global rollups")) === "conflict") ctx.cfg.logger?.warn("global rollups: older documents were removed by another process");
  }
}
