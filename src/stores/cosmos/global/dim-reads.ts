/**
 * Dimension views (an aggregate grouped by one charge-back dimension, optionally by hour
 * or day, with no user, thread, provider, model or agent filter) from the global
 * dimension documents (dim-docs.ts): whole days from day documents, whole hours left at
 * either end from hour documents, the partial hours at the ends raw. Documents read
 * depend on the range, not on users or records. A day where the dimension is `over` (too
 * many values to keep) is read from its hour documents, and an hour where it is `over`
 * from its raw records (the cost every dimension view had before).
 */
import { aggregateInMemory, mergeRows, type AggregateQuery, type AggregateRow, type UsageTotals } from "../../types.js";
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { planRange, rawRecords } from "../user-queries.js";
import { globalPk } from "./batch.js";
import { DIMS_DAY_TYPE, DIMS_HOUR_TYPE, nameKey, type DimsDoc } from "./dim-docs.js";
import type { LeaseDoc } from "./layout.js";
import { globalDocsQuery } from "./reads.js";

const HOUR_MS = 3_600_000;

/** The one dimension a query groups by, when the dimension documents can answer it. */
export function dimensionOf(q: AggregateQuery): string | undefined {
  const f = q.filter;
  if (f.userId !== undefined || f.threadId !== undefined || f.provider !== undefined || f.model !== undefined || f.agentName !== undefined) return undefined;
  const dims = q.groupBy.filter((k) => k.startsWith("dimension:"));
  if (dims.length !== 1 || !q.groupBy.every((k) => k === dims[0] || k === "hour" || k === "day")) return undefined;
  return dims[0].slice("dimension:".length);
}

export async function aggregateFromDims(ctx: CosmosContext, o: OpenedContainer, lease: LeaseDoc, query: AggregateQuery, name: string): Promise<AggregateRow[]> {
  const f = query.filter;
  const raw = async (start: string | undefined, end: string | undefined) => aggregateInMemory(await rawRecords(ctx, o, query, start, end), query);
  const plan = planRange(f.start, f.end, query.groupBy.includes("hour"));
  if (!plan) return raw(f.start, f.end);
  const scope = { partitionKey: globalPk(ctx, o) };
  const reads: Array<Promise<DimsDoc[]>> = [];
  if (plan.days) reads.push(ctx.queryAll<DimsDoc>(o.container, globalDocsQuery(lease.epoch, DIMS_DAY_TYPE, "day", plan.days), scope));
  for (const hours of plan.hours) reads.push(ctx.queryAll<DimsDoc>(o.container, globalDocsQuery(lease.epoch, DIMS_HOUR_TYPE, "hour", hours), scope));
  const edges: Array<Promise<AggregateRow[]>> = [];
  // Awaited one after another below: a handler now, so a later one's failure is never unhandled.
  const later = (p: Promise<AggregateRow[]>) => {
    p.catch(() => undefined);
    edges.push(p);
  };
  if (plan.rawHead) later(raw(f.start, plan.rawHead));
  if (plan.rawTail) later(raw(plan.rawTail, f.end));
  const docs = (await Promise.all(reads)).flat();
  const k = nameKey(name);
  const rows: AggregateRow[] = [];
  const row = (doc: DimsDoc, value: string | null, t: UsageTotals) => {
    if (t.requests <= 0) return;
    const key: Record<string, string | null> = {};
    for (const g of query.groupBy) key[g] = g === "hour" ? doc.hour ?? null : g === "day" ? doc.day : value;
    rows.push({ ...t, key });
  };
  const fold = (list: DimsDoc[]) => {
    for (const doc of list) {
      const e = doc.d[k];
      if (doc.over || e?.over) {
        const start = doc.hour ? `${doc.hour}:00:00.000Z` : `${doc.day}T00:00:00.000Z`;
        if (doc.hour) {
          // Too many values kept in this hour: its raw records.
          later(raw(start, new Date(Date.parse(start) + HOUR_MS).toISOString()));
        } else {
          // Too many in the day: its hour documents, where the dimension may still fit.
          const next = new Date(Date.parse(start) + 24 * HOUR_MS).toISOString();
          const hours = ctx.queryAll<DimsDoc>(o.container, globalDocsQuery(lease.epoch, DIMS_HOUR_TYPE, "hour", [`${doc.day}T00`, next.slice(0, 13)]), scope);
          later(hours.then((h) => (fold(h), [])));
        }
        continue;
      }
      if (!e) {
        row(doc, null, doc.all);
        continue;
      }
      if (e.none) row(doc, null, e.none);
      for (const v of Object.values(e.v ?? {})) row(doc, v.value, v.t);
    }
  };
  fold(docs);
  // Reading a day's hour documents may add raw reads of its hours: wait until none is pending.
  const parts: AggregateRow[] = [];
  for (let done = 0; done < edges.length; done++) parts.push(...(await edges[done]));
  return mergeRows([...rows, ...parts], query.groupBy);
}
