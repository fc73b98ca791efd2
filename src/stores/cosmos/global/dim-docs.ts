/**
 * Charge-back dimensions in the global partition: one document per UTC hour and per UTC
 * day (`~g<epoch>xh<hour>`, `~g<epoch>xd<day>`) holding, for every dimension name seen
 * in that period, the totals per value and the totals of the period's records that lack
 * the dimension (its `null` group). One document per period, not one per dimension: a
 * record touches exactly two of them (its hour and its day) however many dimensions it
 * carries, so a consumer batch stays within 100 operations.
 *
 * The `null` group is exact because the document also keeps `all` (every record of the
 * period): a dimension first seen in a period starts with `none` = `all` so far (every
 * earlier record of the period lacked it), and from then on each record adds to its value
 * or to `none`.
 *
 * Bounded size, so no document nears the 2 MB limit and a batch stays under its 2 MB
 * payload: a document whose JSON would exceed `DIM_DOC_BYTES` drops the dimension with the
 * most values in it and marks it `over` for that period (for the rest of the epoch; later
 * deltas of that dimension are skipped there, so what remains is still exact). A view of
 * an `over` dimension reads an `over` day from its hour documents and an `over` hour from
 * its raw records (global/dim-reads.ts). A hostile dimension with 100,000 distinct values a
 * day is `over` in each day document and in the hour documents where it has more than
 * about 500 values, and costs its own views what every dimension view cost before: a raw
 * read of those hours. The other dimensions of the
 * period keep their rollups. If even the markers do not fit (thousands of dimension
 * names in one period) the whole document is `over`.
 *
 * Names and values are stored as fields, keyed by a hash: any string (quotes, unicode,
 * `__proto__`, kilobytes long) is safe as a key.
 */
import { createHash } from "node:crypto";
import type { OperationInput } from "@azure/cosmos";
import type { UsageRecord } from "../../../record/types.js";
import { addTotals, emptyTotals, recordTotals, type UsageTotals } from "../../types.js";
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { periodOf } from "../rollup-docs.js";
import { globalPk } from "./batch.js";
import { GLOBAL_MONTH, GLOBAL_PARTITION, type GlobalLevel } from "./layout.js";
import { negated } from "./leader-docs.js";

export const DIMS_HOUR_TYPE = "global-dims-hour";
export const DIMS_DAY_TYPE = "global-dims-day";
/** Largest serialized dimension document (the service's limit is 2 MB per document and per batch). */
export const DIM_DOC_BYTES = 200_000;

export interface DimValue {
  value: string;
  t: UsageTotals;
}

export interface DimEntry {
  name: string;
  /** Too many values in this period: not kept, read raw. */
  over?: true;
  /** Totals of the period's records without this dimension. */
  none?: UsageTotals;
  v?: Record<string, DimValue>;
}

export interface DimsDoc {
  id: string;
  type: typeof DIMS_HOUR_TYPE | typeof DIMS_DAY_TYPE;
  user_id: typeof GLOBAL_PARTITION;
  month: typeof GLOBAL_MONTH;
  epoch: number;
  day: string;
  hour?: string;
  all: UsageTotals;
  /** Every dimension of the period is read raw (too many names to keep even their markers). */
  over?: true;
  d: Record<string, DimEntry>;
  _etag?: string;
}

export type DimDeltas = Map<string, { level: GlobalLevel; period: string; changes: Array<{ sign: 1 | -1; r: UsageRecord }> }>;

const hash = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 20);
export const nameKey = (name: string) => `n${hash(name)}`;
const valueKey = (value: string) => `v${hash(value)}`;

export function dimsDocId(level: GlobalLevel, epoch: number, period: string): string {
  return `~g${epoch}x${level === "hour" ? "h" : "d"}${period}`;
}

/** Queues `sign` × each record for its hour and day documents (applied in order to the stored ones). */
export function addDimRecords(into: DimDeltas, records: UsageRecord[], sign: 1 | -1): DimDeltas {
  for (const r of records) {
    for (const level of ["hour", "day"] as GlobalLevel[]) {
      const period = periodOf(level, r.timestamp);
      const key = `${level}|${period}`;
      let slot = into.get(key);
      if (!slot) into.set(key, (slot = { level, period, changes: [] }));
      slot.changes.push({ sign, r });
    }
  }
  return into;
}

function newDimsDoc(level: GlobalLevel, epoch: number, period: string): DimsDoc {
  const doc: DimsDoc = {
    id: dimsDocId(level, epoch, period),
    type: level === "hour" ? DIMS_HOUR_TYPE : DIMS_DAY_TYPE,
    user_id: GLOBAL_PARTITION,
    month: GLOBAL_MONTH,
    epoch,
    day: period.slice(0, 10),
    all: emptyTotals(),
    d: {},
  };
  if (level === "hour") doc.hour = period;
  return doc;
}

function applyChange(doc: DimsDoc, r: UsageRecord, sign: 1 | -1): void {
  const t = sign === 1 ? recordTotals(r) : negated(recordTotals(r));
  if (!doc.over) {
    const present = new Map<string, [string, string]>();
    for (const [name, value] of Object.entries(r.dimensions ?? {})) present.set(nameKey(name), [name, String(value)]);
    for (const [k, e] of Object.entries(doc.d)) {
      if (e.over) continue;
      const hit = present.get(k);
      if (!hit) {
        e.none = addTotals(e.none ?? emptyTotals(), t);
        continue;
      }
      const vk = valueKey(hit[1]);
      const v = e.v ?? (e.v = {});
      const sum = addTotals(v[vk] ? { ...v[vk].t } : emptyTotals(), t);
      if (sum.requests <= 0) delete v[vk];
      else v[vk] = { value: hit[1], t: sum };
    }
    for (const [k, [name, value]] of present) {
      if (doc.d[k]) continue;
      // First seen in this period: every record folded here before lacked it.
      doc.d[k] = { name, none: { ...doc.all }, v: { [valueKey(value)]: { value, t: addTotals(emptyTotals(), t) } } };
    }
  }
  addTotals(doc.all, t);
}

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

/**
 * Drops the dimensions with the most values (marking them `over`) until the document fits.
 * Sizes are measured once and adjusted by each marking's exact difference, so a document
 * with thousands of dimension names costs a sort, not a serialization per name.
 */
function bound(doc: DimsDoc): void {
  let size = bytes(doc);
  if (size <= DIM_DOC_BYTES) return;
  const widest = Object.values(doc.d)
    .filter((e) => !e.over)
    .map((e) => ({ e, values: Object.keys(e.v ?? {}).length, size: bytes(e) }))
    .sort((a, b) => b.values - a.values || b.size - a.size);
  for (const w of widest) {
    if (size <= DIM_DOC_BYTES) return;
    w.e.over = true;
    delete w.e.v;
    delete w.e.none;
    size -= w.size - bytes(w.e);
  }
  if (size > DIM_DOC_BYTES) {
    doc.over = true;
    doc.d = {};
  }
}

/** The stored document (or none) with the slot's changes applied; null when it holds no request. */
export function applyDimChanges(stored: DimsDoc | null, level: GlobalLevel, epoch: number, period: string, changes: Array<{ sign: 1 | -1; r: UsageRecord }>): DimsDoc | null {
  const doc: DimsDoc = stored ? structuredClone(stored) : newDimsDoc(level, epoch, period);
  for (const c of changes) applyChange(doc, c.r, c.sign);
  if (doc.all.requests <= 0) return null;
  bound(doc);
  return doc;
}

/** Read-modify-write operations on the touched dimension documents (conditional on each one's etag). */
export async function dimOperations(ctx: CosmosContext, o: OpenedContainer, epoch: number, deltas: DimDeltas): Promise<OperationInput[]> {
  const pk = globalPk(ctx, o);
  const slots = [...deltas.values()];
  const stored = await Promise.all(slots.map((s) => ctx.readDoc(o.container, dimsDocId(s.level, epoch, s.period), pk) as Promise<DimsDoc | null>));
  const ops: OperationInput[] = [];
  slots.forEach((s, i) => {
    const cur = stored[i];
    const next = applyDimChanges(cur, s.level, epoch, s.period, s.changes);
    const id = dimsDocId(s.level, epoch, s.period);
    if (next) {
      const body = Object.fromEntries(Object.entries(next).filter(([k]) => !k.startsWith("_")));
      ops.push(cur ? { operationType: "Replace", id, ifMatch: cur._etag, resourceBody: body as never } : { operationType: "Create", resourceBody: body as never });
    } else if (cur) {
      ops.push({ operationType: "Delete", id, ifMatch: cur._etag } as OperationInput);
    }
  });
  return ops;
}
