/**
 * Telling a replay from a conflict. The same id with the same content is a duplicate
 * (importing a file again is safe and stores nothing twice); the same id with other
 * content is a conflict: reported, never stored, never counted as "already present".
 *
 * Content is what the row says about the call. Costs are left out: a row re-priced
 * by the catalog since the last import is still the same call.
 */
import { createHash } from "node:crypto";
import type { UsageRecord } from "../../record/types.js";
import type { UsageStore } from "../../stores/types.js";

const CONTENT_FIELDS = [
  "userId", "threadId", "agentName", "operationType", "provider", "model", "deployment", "timestamp",
  "inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens", "reasoningTokens",
  "estimated", "cached", "latencyMs", "error", "errorMessage", "runId", "parentRunId", "tags", "dimensions", "requestMetadata",
] as const satisfies ReadonlyArray<keyof UsageRecord>;

/** JSON with object keys sorted, so key order never makes two equal values differ. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

export function differingFields(a: UsageRecord, b: UsageRecord): string[] {
  return CONTENT_FIELDS.filter((f) => canonical(a[f]) !== canonical(b[f]));
}

function fingerprint(r: UsageRecord): string {
  return createHash("sha256").update(CONTENT_FIELDS.map((f) => canonical(r[f])).join("\u0000")).digest("base64").slice(0, 16);
}

export interface Conflict {
  /** 0-based row of the import. */
  row: number;
  where?: string;
  id: string;
  /** What the row conflicts with: an earlier row of the same import, or the stored record. */
  with: { row: number } | "stored";
  /** Differing fields (for a stored record; an earlier row is kept only as a fingerprint). */
  fields?: string[];
}

/** Ids seen in this import: a fingerprint and the row per id (about 60 bytes per row). */
export class SeenIds {
  private readonly seen = new Map<string, { fingerprint: string; row: number }>();

  /** "new", "repeat" (same content as an earlier row), or the earlier row it conflicts with. */
  check(record: UsageRecord, row: number): "new" | "repeat" | { row: number } {
    const print = fingerprint(record);
    const earlier = this.seen.get(record.id);
    if (!earlier) {
      this.seen.set(record.id, { fingerprint: print, row });
      return "new";
    }
    return earlier.fingerprint === print ? "repeat" : { row: earlier.row };
  }
}

/** Point reads in flight at once: pipelines the SQLite worker, stays far from Cosmos throttling. */
const READS_IN_FLIGHT = 32;

/**
 * After an append reported duplicates: which records of the batch differ from what is
 * stored under their id. One point read per record, paid only by batches that held a
 * duplicate (a first import pays nothing).
 */
export async function conflictsWithStore(store: UsageStore, batch: UsageRecord[]): Promise<Array<{ record: UsageRecord; fields: string[] }>> {
  const out: Array<{ record: UsageRecord; fields: string[] }> = [];
  for (let i = 0; i < batch.length; i += READS_IN_FLIGHT) {
    const slice = batch.slice(i, i + READS_IN_FLIGHT);
    // The id may be stored under another user (another partition on Cosmos): then it is looked up without one.
    const stored = await Promise.all(slice.map(async (r) => (await store.get(r.id, r.userId)) ?? (await store.get(r.id))));
    slice.forEach((record, j) => {
      const fields = stored[j] ? differingFields(stored[j], record) : [];
      if (fields.length > 0) out.push({ record, fields });
    });
  }
  return out;
}
