/**
 * Document shapes kept in the one container: usage records (`type: "usage"`), rollups
 * in the user's partition (`rollup-hour`, `rollup-day`, and legacy `rollup`: see
 * rollup-docs.ts) and settings/claims (in the reserved partition `__settings__`).
 * Ids are made safe for Cosmos here.
 */
import { createHash } from "node:crypto";
import { fromStored, toStored } from "../../record/mapping.js";
import type { StoredUsageRecord, UsageRecord } from "../../record/types.js";

export const SETTINGS_PARTITION = "__settings__";

export type UsageDocument = StoredUsageRecord & {
  type: "usage";
  /** The record id when the document id had to be derived from it (see `docIdFor`). */
  record_id?: string;
};

/**
 * Cosmos ids may not contain `/ \ ? #`, are at most 255 characters and appear in
 * request URLs; record ids are caller data (run ids, but also anything a user
 * passes). A conservative character set is kept as is, which also keeps documents
 * written by other tools addressable; anything else becomes `~h` + SHA-256, a form
 * no kept id can take because `~` is outside the set.
 */
const SAFE_ID = /^[A-Za-z0-9_.:@+=-]{1,200}$/;

export function docIdFor(recordId: string): string {
  return SAFE_ID.test(recordId) ? recordId : `~h${sha256(recordId)}`;
}

export function settingDocId(kind: "setting" | "claim", namespace: string, key: string): string {
  return `~${kind === "setting" ? "s" : "c"}${sha256(`${namespace}\u0000${key}`)}`;
}

function sha256(s: string): string {
  return createHash("sha256").update(s, "utf8").digest("hex");
}

export function toUsageDocument(r: UsageRecord): UsageDocument {
  const doc: UsageDocument = { ...toStored(r), type: "usage" };
  const id = docIdFor(r.id);
  if (id !== r.id) {
    doc.id = id;
    doc.record_id = r.id;
  }
  return doc;
}

export function fromUsageDocument(d: Record<string, unknown>): UsageRecord {
  const r = fromStored(d);
  if (typeof d.record_id === "string") r.id = d.record_id;
  return r;
}

/** The partition key value of a document, for flat (`/user_id`) or hierarchical (`/user_id`,`/month`) containers. */
export function partitionKeyOf(hierarchical: boolean, userId: string, month: string): string | string[] {
  return hierarchical ? [userId, month] : userId;
}
