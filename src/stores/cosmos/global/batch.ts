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
import { sendConditionalBatch } from "../conditional-batch.js";
import { GLOBAL_MONTH, GLOBAL_PARTITION } from "./layout.js";

/** Service limit: operations per transactional batch. */
export const MAX_BATCH_OPERATIONS = 100;

/** Below the service's 2 MB request limit for a transactional batch, with room for headers. */
const MAX_BATCH_BYTES = 1_800_000;

/** Whether `ops` (plus the lease write) must be split: too many operations or too many bytes. */
export function batchTooLarge(ops: OperationInput[]): boolean {
  return ops.length + 1 > MAX_BATCH_OPERATIONS || Buffer.byteLength(JSON.stringify(ops)) > MAX_BATCH_BYTES;
}

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
  return sendConditionalBatch(ctx, o, ops, globalPk(ctx, o), what);
}
