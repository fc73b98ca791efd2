/**
 * Turning deltas into the batch operations on the global hour and day documents: each
 * touched document is read by id (one point read per hour and per day touched) and
 * rewritten whole, conditional on its etag; a new one is created; one left without a
 * request is deleted. Every such batch also rewrites the lease under its etag (the
 * callers add that operation), which is what makes the writes exactly-once.
 */
import type { OperationInput } from "@azure/cosmos";
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { applyGroups, type GlobalDeltas } from "./fold.js";
import { globalPk } from "./batch.js";
import {
  GLOBAL_DAY_TYPE,
  GLOBAL_HOUR_TYPE,
  GLOBAL_MONTH,
  GLOBAL_PARTITION,
  globalRollupId,
  LEASE_ID,
  type GlobalRollupDoc,
  type LeaseDoc,
} from "./layout.js";

export async function rollupOperations(
  ctx: CosmosContext,
  o: OpenedContainer,
  epoch: number,
  deltas: GlobalDeltas,
): Promise<OperationInput[]> {
  const slots = [...deltas.values()];
  const pk = globalPk(ctx, o);
  const stored = await Promise.all(
    slots.map((s) => ctx.readDoc(o.container, globalRollupId(s.level, epoch, s.period), pk) as Promise<GlobalRollupDoc | null>),
  );
  const ops: OperationInput[] = [];
  slots.forEach((s, i) => {
    const cur = stored[i];
    const id = globalRollupId(s.level, epoch, s.period);
    const g = applyGroups(cur?.g ?? {}, s.groups);
    const empty = Object.keys(g).length === 0;
    if (!cur) {
      if (!empty) ops.push({ operationType: "Create", resourceBody: newGlobalDoc(s.level, epoch, s.period, g) as never });
    } else if (empty) {
      // The wire format takes ifMatch on Delete too; SDK 4.9's type leaves it out.
      ops.push({ operationType: "Delete", id, ifMatch: cur._etag } as OperationInput);
    } else {
      ops.push({ operationType: "Replace", id, ifMatch: cur._etag, resourceBody: newGlobalDoc(s.level, epoch, s.period, g) as never });
    }
  });
  return ops;
}

function newGlobalDoc(level: "hour" | "day", epoch: number, period: string, g: GlobalRollupDoc["g"]): GlobalRollupDoc {
  const doc: GlobalRollupDoc = {
    id: globalRollupId(level, epoch, period),
    type: level === "hour" ? GLOBAL_HOUR_TYPE : GLOBAL_DAY_TYPE,
    user_id: GLOBAL_PARTITION,
    month: GLOBAL_MONTH,
    epoch,
    day: period.slice(0, 10),
    g,
  };
  if (level === "hour") doc.hour = period;
  return doc;
}

/** The lease rewritten as `next`, only if it is still the version `current` was read as. */
export function leaseReplace(current: LeaseDoc, next: LeaseDoc): OperationInput {
  const { _etag, _ts, ...body } = next;
  void _etag;
  void _ts;
  const clean = Object.fromEntries(Object.entries(body).filter(([k]) => !k.startsWith("_")));
  return { operationType: "Replace", id: LEASE_ID, ifMatch: current._etag, resourceBody: clean as never };
}
