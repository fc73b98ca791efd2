/** What the writer's buffer holds: records, or functions that build one (off the agent's path). */
import type { UsageRecord } from "../record/types.js";
import type { DeferredRecord } from "./writer-options.js";

export type Entry = UsageRecord | DeferredRecord;

/**
 * The entries as records, deferred ones built now. One that cannot be built (corrupt input)
 * goes to `onRejected` and is left out: it could never be stored correctly.
 */
export function buildEntries(entries: readonly Entry[], onRejected: (error: unknown) => void): UsageRecord[] {
  const out: UsageRecord[] = [];
  for (const entry of entries) {
    if (typeof entry !== "function") {
      out.push(entry);
      continue;
    }
    try {
      const record = entry();
      if (record) out.push(record);
    } catch (error) {
      onRejected(error);
    }
  }
  return out;
}
