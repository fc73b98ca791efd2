/**
 * Writes records to a file (or stdout for `-`) as CSV or as a JSON array, one page
 * at a time, in the export format that `import` reads back exactly.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { stringify } from "csv-stringify";
import type { UsageRecord } from "../../record/types.js";
import { EXPORT_COLUMNS, recordToCsvRow, recordToExportObject } from "../../server/csv/record-columns.js";
import type { FileFormat } from "./read-records.js";

export interface RecordWriter {
  write(records: UsageRecord[]): Promise<void>;
  end(): Promise<void>;
}

async function put(stream: Writable, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, "drain");
}

export function openRecordWriter(file: string, format: FileFormat): RecordWriter {
  const toStdout = file === "-";
  const out: Writable = toStdout ? process.stdout : createWriteStream(file);
  const finished = toStdout ? Promise.resolve() : once(out, "finish").then(() => undefined);
  if (format === "csv") {
    const csv = stringify({ header: true, columns: [...EXPORT_COLUMNS] });
    csv.pipe(out, { end: !toStdout });
    return {
      async write(records) {
        for (const r of records) {
          if (!csv.write(recordToCsvRow(r))) await once(csv, "drain");
        }
      },
      async end() {
        csv.end();
        await once(csv, "end");
        if (!toStdout) await finished;
      },
    };
  }
  let first = true;
  return {
    async write(records) {
      for (const r of records) {
        await put(out, `${first ? "[\n" : ",\n"}${JSON.stringify(recordToExportObject(r))}`);
        first = false;
      }
    },
    async end() {
      await put(out, first ? "[]\n" : "\n]\n");
      if (!toStdout) {
        out.end();
        await finished;
      }
    },
  };
}
