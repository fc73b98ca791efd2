/**
 * One transactional batch in the global partition, retried while the service is busy.
 * Every batch here carries a write of the lease conditional on its etag, so a batch
 * either commits whole under the lease it was planned on or changes nothing:
 * `conflict` means another consumer or maintenance call moved the lease (or a rollup)
 * first, and the caller re-reads and re-plans.
 */
import type { OperationInput } from "@azure/cosmos";
import { StoreError } from "../../../errors.js";
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { backoffMs, batchFailure, isRetryableStatus, isTransient, messageOf, sleep } from "../retry.js";
import { GLOBAL_MONTH, GLOBAL_PARTITION } from "./layout.js";

/** Service limit: operations per transactional batch. */
export const MAX_BATCH_OPERATIONS = 100;

export function globalPk(ctx: CosmosContext, o: OpenedContainer): string | string[] {
  return ctx.pk(o, GLOBAL_PARTITION, GLOBAL_MONTH);
}

export async function sendGlobalBatch(
  ctx: CosmosContext,
  o: OpenedContainer,
  ops: OperationInput[],
  what: string,
): Promise<"ok" | "conflict"> {
  if (ops.length > MAX_BATCH_OPERATIONS) throw new StoreError(`${what}: ${ops.length} operations exceed a batch's ${MAX_BATCH_OPERATIONS}`);
  for (let attempt = 1; ; attempt++) {
    let error: unknown;
    let retryAfterMs: number | undefined;
    try {
      ctx.metrics.batchRequests++;
      ctx.metrics.batchOperations += ops.length;
      const res = await o.container.items.batch(
        ops.map((op) => ({ ...op })),
        globalPk(ctx, o),
      );
      const failed = (res.result ?? []).find((r) => r.statusCode >= 400 && r.statusCode !== 424);
      if (!failed) return "ok";
      if ([409, 412, 404].includes(failed.statusCode)) return "conflict";
      if (!isRetryableStatus(failed.statusCode)) throw new StoreError(`${what}: Cosmos DB refused an operation with status ${failed.statusCode}`);
      error = new Error(`an operation answered ${failed.statusCode}`);
    } catch (err) {
      if (err instanceof StoreError) throw err;
      const refused = batchFailure(err);
      if (refused.status === 412 || refused.status === 409) return "conflict";
      if (refused.status !== undefined && !isRetryableStatus(refused.status)) {
        throw new StoreError(`${what} failed with status ${refused.status}: ${messageOf(err)}`, { cause: err });
      }
      // SDK 4.9 rewraps a batch refused whole (429, 503) as a plain Error without a status:
      // nothing was applied, and a batch applied whose answer was lost fails its etag next time.
      if (refused.status === undefined && !isTransient(err) && !/^Batch request error/.test(messageOf(err))) {
        throw new StoreError(`${what} failed: ${messageOf(err)}`, { cause: err });
      }
      error = err;
      retryAfterMs = refused.retryAfterMs;
    }
    if (attempt >= ctx.policy.maxAttempts) {
      throw new StoreError(`${what} still failing after ${attempt} attempts: ${messageOf(error)}`, { cause: error });
    }
    await sleep(backoffMs(attempt, ctx.policy, retryAfterMs));
  }
}
