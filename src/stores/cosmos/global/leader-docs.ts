/**
 * The leaderboards' documents in the global partition, kept by the same batches as the
 * global rollups: one per (user, day) and per (thread, day) with that entity's totals that
 * day, and one per (registered window, entity) with its totals over the window's days.
 * Each is small (one entity), so none nears the 2 MB document limit however many users
 * there are; the number of documents grows with active entity-days, which only the
 * consumer writes and which no read scans (reads take the top of an ORDER BY by cost, or
 * a few candidates' documents).
 */
import { createHash } from "node:crypto";
import type { OperationInput } from "@azure/cosmos";
import type { UsageRecord } from "../../../record/types.js";
import { addTotals, emptyTotals, recordTotals, type UsageTotals } from "../../types.js";
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { globalPk } from "./batch.js";
import {
  GLOBAL_MONTH,
  GLOBAL_PARTITION,
  THREAD_DAY_TYPE,
  USER_DAY_TYPE,
  WINDOW_TYPE,
  type LeaderWindow,
} from "./layout.js";

export interface EntityDoc {
  id: string;
  type: typeof USER_DAY_TYPE | typeof THREAD_DAY_TYPE | typeof WINDOW_TYPE;
  user_id: typeof GLOBAL_PARTITION;
  month: typeof GLOBAL_MONTH;
  epoch: number;
  /** Per-day documents: the day. */
  day?: string;
  /** Window documents: the window's key (see `windowKey`). */
  win?: string;
  user: string;
  thread?: string;
  /** `t.costNanos`, at the top level for ORDER BY. */
  cost: number;
  t: UsageTotals;
  _etag?: string;
}

export type EntityDeltas = Map<string, Omit<EntityDoc, "cost" | "user_id" | "month">>;

const hash = (parts: unknown[]) => createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 24);

export function entityDayId(entity: "user" | "thread", epoch: number, day: string, user: string, thread?: string): string {
  return `~g${epoch}${entity === "user" ? "u" : "t"}${day}${hash([user, thread ?? null])}`;
}

export function windowKey(epoch: number, w: LeaderWindow): string {
  return `${epoch}|${w.entity}|${w.start}|${w.end}|${w.build}`;
}

export function windowDocId(win: string, user: string, thread?: string): string {
  return `~gw${hash([win, user, thread ?? null])}`;
}

export function negated(t: UsageTotals): UsageTotals {
  const n = emptyTotals();
  for (const k of Object.keys(n) as Array<keyof UsageTotals>) {
    if (typeof t[k] === "number") (n[k] as number) = -(t[k] as number);
  }
  return n; // first/last seen stay null: a subtraction never widens them
}

/** Adds `sign` x each record to its entity-day documents and to the windows covering its day. */
export function addEntityRecords(into: EntityDeltas, records: UsageRecord[], sign: 1 | -1, epoch: number, windows: LeaderWindow[] = []): EntityDeltas {
  const add = (base: Omit<EntityDoc, "cost" | "user_id" | "month" | "t">, t: UsageTotals) => {
    const cur = into.get(base.id);
    if (cur) addTotals(cur.t, t);
    else into.set(base.id, { ...base, t: addTotals(emptyTotals(), t) });
  };
  for (const r of records) {
    const day = r.timestamp.slice(0, 10);
    const t = sign === 1 ? recordTotals(r) : negated(recordTotals(r));
    add({ id: entityDayId("user", epoch, day, r.userId), type: USER_DAY_TYPE, epoch, day, user: r.userId }, t);
    if (r.threadId !== null && r.threadId !== undefined) {
      add({ id: entityDayId("thread", epoch, day, r.userId, r.threadId), type: THREAD_DAY_TYPE, epoch, day, user: r.userId, thread: r.threadId }, t);
    }
    for (const w of windows) {
      if (day < w.start || day >= w.end) continue;
      if (w.entity === "thread" && (r.threadId === null || r.threadId === undefined)) continue;
      const win = windowKey(epoch, w);
      const thread = w.entity === "thread" ? r.threadId! : undefined;
      add({ id: windowDocId(win, r.userId, thread), type: WINDOW_TYPE, epoch, win, user: r.userId, thread }, t);
    }
  }
  return into;
}

/** Read-modify-write operations for the touched entity documents (conditional on each one's etag). */
export async function entityOperations(ctx: CosmosContext, o: OpenedContainer, deltas: EntityDeltas): Promise<OperationInput[]> {
  const pk = globalPk(ctx, o);
  const list = [...deltas.values()];
  const stored = await Promise.all(list.map((d) => ctx.readDoc(o.container, d.id, pk) as Promise<EntityDoc | null>));
  const ops: OperationInput[] = [];
  list.forEach((d, i) => {
    const cur = stored[i];
    const t = addTotals(cur ? { ...cur.t } : emptyTotals(), d.t);
    if (t.requests <= 0) {
      if (cur) ops.push({ operationType: "Delete", id: d.id, ifMatch: cur._etag } as OperationInput);
      return;
    }
    const body: EntityDoc = { ...d, user_id: GLOBAL_PARTITION, month: GLOBAL_MONTH, cost: t.costNanos, t };
    if (body.thread === undefined) delete body.thread;
    ops.push(cur ? { operationType: "Replace", id: d.id, ifMatch: cur._etag, resourceBody: body as never } : { operationType: "Create", resourceBody: body as never });
  });
  return ops;
}
