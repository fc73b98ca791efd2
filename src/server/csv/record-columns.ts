/**
 * The export format: one row per record, the persisted snake_case fields
 * (the `token_usage` schema) in a fixed order. CSV cells are strings: null is
 * empty, booleans are `true`/`false`, lists and maps are JSON, text that a
 * spreadsheet would run as a formula is escaped (`formula-escape.ts`). The CLI's
 * import reads this format back exactly.
 */
import { escapeCsvText } from "./formula-escape.js";
import { toStored } from "../../record/mapping.js";
import type { StoredUsageRecord, UsageRecord } from "../../record/types.js";

export const EXPORT_COLUMNS = [
  "id",
  "user_id",
  "thread_id",
  "agent_name",
  "operation_type",
  "provider",
  "model",
  "deployment",
  "timestamp",
  "input_tokens",
  "output_tokens",
  "total_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "input_cost",
  "output_cost",
  "total_cost",
  "input_cost_nanos",
  "output_cost_nanos",
  "total_cost_nanos",
  "priced",
  "price_source",
  "estimated",
  "cached",
  "latency_ms",
  "error",
  "error_message",
  "run_id",
  "parent_run_id",
  "tags",
  "dimensions",
  "request_metadata",
] as const satisfies ReadonlyArray<keyof StoredUsageRecord>;

export type ExportColumn = (typeof EXPORT_COLUMNS)[number];

/** The record as an export object (JSON export): stored fields without the derived day/month. */
export function recordToExportObject(record: UsageRecord): Pick<StoredUsageRecord, ExportColumn> {
  const stored = toStored(record);
  const out = {} as Record<string, unknown>;
  for (const column of EXPORT_COLUMNS) out[column] = stored[column];
  return out as Pick<StoredUsageRecord, ExportColumn>;
}

/** The record as CSV cells, in `EXPORT_COLUMNS` order. */
export function recordToCsvRow(record: UsageRecord): string[] {
  const stored = recordToExportObject(record);
  return EXPORT_COLUMNS.map((column) => cell(stored[column]));
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "number") return String(value);
  return escapeCsvText(String(value));
}
