/**
 * `import <file>`: CSV, JSON or a SQLite usage table, in batches. Our export format
 * round-trips exactly; rows from other tools are priced with the current catalog. Ids
 * make it idempotent (rows without one get an id derived from their position and
 * content), so after a failure at some row, fixing the file and importing again is
 * safe. A row error names the row and the column and stops the import (exit 2);
 * conflicting ids are reported and skipped, and make the exit code 2 at the end.
 */
import type { Command } from "commander";
import { ValidationError } from "../../errors.js";
import type { UsageRecord } from "../../record/types.js";
import { out, printJson, withMonitor } from "../context.js";
import { conflictsWithStore, SeenIds, type Conflict } from "../io/import-conflicts.js";
import { columnName, normalizeRow, rowToRecord } from "../io/import-rows.js";
import { assertReadable, detectImportFormat, readRows, type SourceRow } from "../io/read-records.js";
import { createProgress } from "../progress.js";

const BATCH = 500;

interface ImportFlags {
  format?: string;
  table?: string;
  json?: boolean;
}

export function registerImport(program: Command): void {
  program
    .command("import")
    .description("read records from a CSV or JSON file, or a SQLite file's usage table")
    .argument("<file>", "CSV with a header row, JSON (array, object or one object per line), or a SQLite file")
    .option("--format <format>", "csv, json or sqlite (default: from the extension or content)")
    .option("--table <name>", "the SQLite table to read (default: token_usage or api_usage, whichever exists)")
    .option("--json", "print the result as JSON")
    .action(async (file: string, flags: ImportFlags, command: Command) => {
      await assertReadable(file);
      const format = await detectImportFormat(file, flags.format);
      if (flags.table !== undefined && format !== "sqlite") throw new ValidationError("table", "applies to SQLite files only");
      await withMonitor(command, async (monitor) => {
        const progress = createProgress("import");
        const seen = new SeenIds();
        const conflicts: Conflict[] = [];
        let inserted = 0;
        let duplicates = 0;
        let rows = 0;
        let batch: Array<{ record: UsageRecord; row: number; where?: string }> = [];
        const flush = async () => {
          if (batch.length === 0) return;
          const records = batch.map((b) => b.record);
          const result = await monitor.store.append(records);
          inserted += result.inserted;
          duplicates += result.duplicates;
          if (result.duplicates > 0) {
            for (const { record, fields } of await conflictsWithStore(monitor.store, records)) {
              const entry = batch.find((b) => b.record === record)!;
              conflicts.push({ row: entry.row, where: entry.where, id: record.id, with: "stored", fields });
              duplicates--;
            }
          }
          batch = [];
          progress.update(rows, rows);
        };
        try {
          for await (const source of readRows(file, format, { table: flags.table })) {
            const record = toRecord(source, rows, monitor.pricer, inserted);
            const seenBefore = seen.check(record, rows);
            if (seenBefore === "new") batch.push({ record, row: rows, where: source.where });
            else if (seenBefore === "repeat") duplicates++;
            else conflicts.push({ row: rows, where: source.where, id: record.id, with: seenBefore });
            rows++;
            if (batch.length >= BATCH) await flush();
          }
          await flush();
        } finally {
          progress.stop();
        }
        const result = { file, format, ...(flags.table ? { table: flags.table } : {}), rows, inserted, duplicates, conflicts: conflicts.length, conflictingRows: conflicts };
        if (flags.json) printJson(result);
        else {
          out(`imported ${inserted} records from ${file} (${duplicates} already present, ${conflicts.length} conflicting)`);
          for (const c of conflicts) out(`conflict: ${describeConflict(c)}`);
        }
        if (conflicts.length > 0) {
          throw new ValidationError(`rows[${conflicts[0].row}].id`, `${conflicts.length} row(s) reuse an id with different content and were not imported; first: ${describeConflict(conflicts[0])}`);
        }
      });
    });
}

function describeConflict(c: Conflict): string {
  const at = `rows[${c.row}]${c.where ? ` (${c.where})` : ""} id ${JSON.stringify(c.id)}`;
  return c.with === "stored" ? `${at} differs from the stored record in ${c.fields!.join(", ")}` : `${at} differs from rows[${c.with.row}], which has the same id`;
}

/** The record of one row, or a `ValidationError` naming the row and the row's own column. */
function toRecord(source: SourceRow, index: number, pricer: Parameters<typeof rowToRecord>[2], inserted: number): UsageRecord {
  try {
    return rowToRecord(source.row, index, pricer);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const column = columnName(error.field, normalizeRow(source.row).columns);
    const where = source.where ? ` (${source.where})` : "";
    throw new ValidationError(
      `rows[${index}].${column}`,
      `${error.message.slice(error.field.length + 2)}${where}; ${inserted} earlier records were imported, importing again is safe`,
      { cause: error },
    );
  }
}
