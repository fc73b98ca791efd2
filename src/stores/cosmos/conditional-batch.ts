/**
 * A transactional batch whose writes are conditional (etags, creates), retried while the
 * service is busy. `conflict` means a condition failed (409, 412, 404: another writer got
 * there first) and nothing was applied: the caller re-reads and re-plans. Used by the
 * rollup recompute (rollup-sync.ts) and by every write of the global partition
 * (global/batch.ts).
 */
import type { OperationInput, PartitionKey } from "@azure/cosmos";
import { StoreError } from "../../errors.js";
import type { OpenedContainer } from "./container-setup.js";
import type { CosmosContext } from "./context.js";
import { backoffMs, batchFailure, isRetryableStatus, isTransient, messageOf, sleep, unusableError } from "./retry.js";

const CONFLICT = new Set([409, 412, 404]);

export async function sendConditionalBatch(
  ctx: CosmosContext,
  o: OpenedContainer,
  ops: OperationInput[],
  pk: PartitionKey,
  what: string,
): Promise<"ok" | "conflict"> {
  for (let attempt = 1; ; attempt++) {
    let error: unknown;
    let retryAfterMs: number | undefined;
    try {
      ctx.metrics.batchRequests++;
      ctx.metrics.batchOperations += ops.length;
      const res = await o.container.items.batch(
        ops.map((op) => ({ ...op })),
        pk,
      );
      const failed = (res.result ?? []).find((r) => r.statusCode >= 400 && r.statusCode !== 424);
      if (!failed) return "ok";
      if (CONFLICT.has(failed.statusCode)) return "conflict";
      if (!isRetryableStatus(failed.statusCode)) throw new StoreError(`Cosmos DB refused ${what}: status ${failed.statusCode}`);
      error = new Error(`${what} answered ${failed.statusCode}`);
    } catch (err) {
      if (err instanceof StoreError) throw err;
      const refused = batchFailure(err);
      if (refused.status === 412 || refused.status === 409) return "conflict";
      if (refused.status !== undefined && !isRetryableStatus(refused.status)) {
        throw unusableError(err, what, ctx.policy.location) ?? new StoreError(`Cosmos DB refused ${what}: status ${refused.status}: ${messageOf(err)}`, { cause: err });
      }
      // SDK 4.9 rewraps a batch refused whole (429, 503) as a plain Error without a status:
      // nothing was applied (and a batch applied whose answer was lost fails its conditions next time).
      if (refused.status === undefined && !isTransient(err) && !/^Batch request error/.test(messageOf(err))) {
        throw new StoreError(`Cosmos DB refused ${what}: ${messageOf(err)}`, { cause: err });
      }
      error = err;
      retryAfterMs = refused.retryAfterMs;
    }
    if (attempt >= ctx.policy.maxAttempts) {
      throw new StoreError(`Cosmos DB still failing ${what} after ${attempt} attempts: ${messageOf(error)}; retry later`, { cause: error });
    }
    await sleep(backoffMs(attempt, ctx.policy, retryAfterMs));
  }
}
