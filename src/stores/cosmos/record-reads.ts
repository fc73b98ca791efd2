/** Raw record reads: one record by id, and keyset-paged listing newest first. */
import { ValidationError } from "../../errors.js";
import type { UsageRecord } from "../../record/types.js";
import type { PageRequest, RecordFilter } from "../types.js";
import type { OpenedContainer } from "./container-setup.js";
import type { CosmosContext, Doc } from "./context.js";
import { docIdFor, fromUsageDocument } from "./documents.js";
import { byRecordIdQuery, listQuery } from "./queries.js";
import { validateFilter } from "./validation.js";

export async function getRecord(ctx: CosmosContext, id: string, userId?: string): Promise<UsageRecord | null> {
  if (typeof id !== "string" || !id) throw new ValidationError("id", "must be a non-empty string");
  const o = await ctx.open();
  const doc = await findUsageDoc(ctx, o, id, userId);
  return doc ? fromUsageDocument(doc) : null;
}

export async function findUsageDoc(ctx: CosmosContext, o: OpenedContainer, id: string, userId?: string): Promise<Doc | null> {
  const docId = docIdFor(id);
  if (userId !== undefined && !o.hierarchical) {
    const doc = await ctx.readDoc(o.container, docId, userId);
    return doc && (doc.type === undefined || doc.type === "usage") ? doc : null;
  }
  const docs = await ctx.queryAll(o.container, byRecordIdQuery(docId, userId), ctx.scope(o, userId));
  return docs[0] ?? null;
}

/**
 * Keyset paging newest first by (timestamp desc, id desc). Ordering is by timestamp
 * only on the server (document ids may be hashes of record ids, so the server
 * cannot order by record id); ties at a page edge are all fetched and ordered
 * here. A page costs at most three queries; a timestamp shared by very many
 * records is read whole.
 */
export async function listRecords(ctx: CosmosContext, filter: RecordFilter, page: PageRequest): Promise<UsageRecord[]> {
  validateFilter(filter);
  if (!Number.isInteger(page?.limit) || page.limit < 1) throw new ValidationError("limit", "must be a positive integer");
  if (page.after && (typeof page.after.timestamp !== "string" || typeof page.after.id !== "string")) {
    throw new ValidationError("after", "must be { timestamp, id } from the last record of the previous page");
  }
  const o = await ctx.open();
  const scope = ctx.scope(o, filter.userId);
  const out: UsageRecord[] = [];
  if (page.after) {
    const after = page.after;
    const ties = (await ctx.queryAll(o.container, listQuery(filter, { at: after.timestamp }), scope))
      .map(fromUsageDocument)
      .filter((r) => r.id < after.id);
    out.push(...ties.sort(newestFirst).slice(0, page.limit));
  }
  const need = page.limit - out.length;
  if (need > 0) {
    let rows = (await ctx.queryAll(o.container, listQuery(filter, { top: need, before: page.after?.timestamp }), scope)).map(
      fromUsageDocument,
    );
    if (rows.length === need) {
      const edge = rows[rows.length - 1].timestamp;
      const ties = (await ctx.queryAll(o.container, listQuery(filter, { at: edge }), scope)).map(fromUsageDocument);
      rows = rows.filter((r) => r.timestamp !== edge).concat(ties);
    }
    out.push(...rows.sort(newestFirst).slice(0, need));
  }
  return out;
}

function newestFirst(a: UsageRecord, b: UsageRecord): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
