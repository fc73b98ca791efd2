/** `export <file>`: every matching record as CSV or JSON (the format `import` reads back). */
import type { Command } from "commander";
import { MAX_PAGE_SIZE, type ListOptions } from "../../query/usage-queries.js";
import { pagesFrom } from "../../server/csv/export-stream.js";
import { out, printJson, withMonitor } from "../context.js";
import { detectFormat } from "../io/read-records.js";
import { openRecordWriter } from "../io/write-records.js";
import { createProgress } from "../progress.js";
import { rangeFrom, wholeHistoryUnlessGiven } from "../range-options.js";

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("write records to a file (`-` for stdout)")
    .argument("<file>", "destination; the format follows the extension unless --format is given")
    .option("--format <format>", "csv or json")
    .option("--start <date>", "ISO 8601 start, inclusive (default: all history)")
    .option("--end <date>", "ISO 8601 end, exclusive (default now)")
    .option("--days <n>", "the last N days")
    .option("--user <id>", "only this user")
    .option("--json", "print the result as JSON")
    .action(async (file: string, flags: { format?: string; start?: string; end?: string; days?: string; user?: string; json?: boolean }, command: Command) => {
      const format = file === "-" ? await detectFormatForStdout(flags.format) : await detectFormatForNewFile(file, flags.format);
      const range = wholeHistoryUnlessGiven(rangeFrom(flags));
      await withMonitor(command, async (monitor) => {
        const options: ListOptions = { ...range, userId: flags.user, limit: MAX_PAGE_SIZE };
        const first = await monitor.getAllUsage(options);
        const total = (await monitor.getOverallUsage({ ...range, userId: flags.user })).totalRequests;
        const progress = createProgress("export", total);
        const writer = openRecordWriter(file, format);
        let written = 0;
        try {
          for await (const page of pagesFrom(monitor, options, first)) {
            await writer.write(page.records);
            written += page.records.length;
            progress.update(written);
          }
          await writer.end();
        } finally {
          progress.stop();
        }
        if (file === "-") return;
        if (flags.json) printJson({ file, format, records: written });
        else out(`exported ${written} records to ${file} (${format})`);
      });
    });
}

async function detectFormatForStdout(requested?: string) {
  return detectFormat("-.csv", requested);
}

async function detectFormatForNewFile(file: string, requested?: string) {
  // The file may not exist yet: decide by flag or extension only, CSV by default.
  return detectFormat(/\.(json|jsonl|ndjson)$/i.test(file) ? file : "out.csv", requested);
}
