/**
 * The lease document: the change-feed position of the current epoch, whether that
 * epoch's rollups are complete enough to read (`ready`), and the maintenance lock.
 * Every write of global rollups is in a batch that also rewrites the lease under the
 * etag it was planned with, so exactly one of two racing writers commits.
 */
import { StoreError } from "../../../errors.js";
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { statusOf, withRetry } from "../retry.js";
import { globalPk } from "./batch.js";
import { LEASE_ID, newLease, type LeaseDoc } from "./layout.js";

export async function readLease(ctx: CosmosContext, o: OpenedContainer): Promise<LeaseDoc | null> {
  return (await ctx.readDoc(o.container, LEASE_ID, globalPk(ctx, o))) as LeaseDoc | null;
}

/** The lease, created (epoch 1, from the beginning of the feed) on first use. */
export async function ensureLease(ctx: CosmosContext, o: OpenedContainer): Promise<LeaseDoc> {
  for (let round = 0; round < 5; round++) {
    const lease = await readLease(ctx, o);
    if (lease) return lease;
    const created = await withRetry("lease create", ctx.policy, async () => {
      try {
        const { resource } = await o.container.items.create(newLease(1));
        return resource as unknown as LeaseDoc;
      } catch (err) {
        if (statusOf(err) === 409) return null; // another replica created it first
        throw err;
      }
    });
    if (created) return created;
  }
  throw new StoreError("the global rollups' lease could not be read or created");
}
