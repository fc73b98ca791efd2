/**
 * `import <file>`: CSV or JSON records, in batches. Our export format round-trips
 * exactly; rows from other tools are priced with the current catalog. Ids make it
 * idempotent (rows without one get an id derived from their position and content),
 * so after a failure at some row, fixing the file and importing again is safe.
 */
import type { Command } from "commander";
import { ValidationError } from "../../errors.js";
import type { UsageRecord } from "../../record/types.js";
import { out, printJson, withMonitor } from "../context.js";
import { rowToRecord } from "../io/import-rows.js";
import { detectFormat, readRows } from "../io/read-records.js";
import { createProgress } from "../progress.js";

const BATCH = 500;

export function registerImport(program: Command): void {
  program
    .command("import")
    .description("read records from a CSV or JSON file")
    .argument("<file>", "CSV with a header row, a JSON array, or one JSON object per line")
    .option("--format <format>", "csv or json (default: from the extension or content)")
    .option("--json", "print the result as JSON")
    .action(async (file: string, flags: { format?: string; json?: boolean }, command: Command) => {
      const format = await detectFormat(file, flags.format);
      await withMonitor(command, async (monitor) => {
        const progress = createProgress("import");
        let inserted = 0;
        let duplicates = 0;
        let rows = 0;
        let batch: UsageRecord[] = [];
        const flush = async () => {
          if (batch.length === 0) return;
          const result = await monitor.store.append(batch);
          inserted += result.inserted;
          duplicates += result.duplicates;
          batch = [];
          progress.update(rows, rows);
        };
        try {
          for await (const row of readRows(file, format)) {
            try {
              batch.push(rowToRecord(row, rows, monitor.pricer));
            } catch (error) {
              if (!(error instanceof ValidationError)) throw error;
              const line = format === "csv" ? ` (line ${rows + 2})` : "";
              throw new ValidationError(
                `rows[${rows}].${error.field}`,
                `${error.message.slice(error.field.length + 2)}${line}; ${inserted} earlier records were imported, importing again is safe`,
                { cause: error },
              );
            }
            rows++;
            if (batch.length >= BATCH) await flush();
          }
          await flush();
        } finally {
          progress.stop();
        }
        const result = { file, format, rows, inserted, duplicates };
        if (flags.json) printJson(result);
        else out(`imported ${inserted} records from ${file} (${duplicates} already present)`);
      });
    });
}
