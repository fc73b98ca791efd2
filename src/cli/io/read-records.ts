/**
 * Reads an import source as a stream of plain rows: CSV (header row, any columns),
 * JSON (an array, one object, or one object per line) or a SQLite file's usage
 * table. A file that cannot be read, or is not what it claims, is a `ValidationError`
 * naming it (exit 2), never a stack trace.
 */
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { parse } from "csv-parse";
import { ValidationError } from "../../errors.js";
import { unescapeCsvRow } from "../../server/csv/formula-escape.js";
import { readJsonRows } from "./read-json.js";
import { readSqliteRows } from "./read-sqlite.js";

export type FileFormat = "csv" | "json";
export type ImportFormat = FileFormat | "sqlite";

/** One row and where it came from, for messages (`line 3`, `token_usage id 17`). */
export interface SourceRow {
  row: Record<string, unknown>;
  where?: string;
}

const SQLITE_MAGIC = "SQLite format 3\u0000";

/** The format named by `--format`, else by the extension, else by the first bytes. */
export async function detectFormat(file: string, requested?: string): Promise<FileFormat> {
  const format = await detectImportFormat(file, requested, false);
  return format as FileFormat;
}

export async function detectImportFormat(file: string, requested?: string, sqlite = true): Promise<ImportFormat> {
  const formats = sqlite ? ["csv", "json", "sqlite"] : ["csv", "json"];
  if (requested !== undefined) {
    if (!formats.includes(requested)) throw new ValidationError("format", `must be ${formats.join(" or ")}, got ${JSON.stringify(requested)}`);
    return requested as ImportFormat;
  }
  if (/\.csv$/i.test(file)) return "csv";
  if (/\.(json|jsonl|ndjson)$/i.test(file)) return "json";
  const head = await readHead(file);
  if (sqlite && head.startsWith(SQLITE_MAGIC)) return "sqlite";
  // Read as latin1 (the SQLite magic is binary): a UTF-8 byte order mark is these three characters.
  const first = head.replace(/^\xEF\xBB\xBF/, "").trimStart()[0];
  return first === "[" || first === "{" ? "json" : "csv";
}

/** Fails with one clear line when the file is missing, unreadable or not a file. */
export async function assertReadable(file: string): Promise<void> {
  try {
    if (!(await stat(file)).isFile()) throw new ValidationError("file", `${file} is not a file`);
    await (await open(file, "r")).close();
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError("file", `cannot read ${file}: ${reason(error)}`, { cause: error });
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file (ENOENT)";
  if (code === "EACCES" || code === "EPERM") return `permission denied (${code})`;
  return (error as Error).message;
}

export async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}

export function readRows(file: string, format: ImportFormat, options: { table?: string } = {}): AsyncGenerator<SourceRow> {
  if (format === "csv") return readCsvRows(file);
  if (format === "json") return readJsonRows(file);
  return readSqliteRows(file, options.table);
}

/**
 * Rows of a CSV file with a header row; a malformed line is a `ValidationError` naming
 * it. Every CSV row passes through the one `yield` below: the place for any cell
 * transformation that undoes what `export` did to a cell.
 */
async function* readCsvRows(file: string): AsyncGenerator<SourceRow> {
  const parser = createReadStream(file).pipe(parse({ columns: true, bom: true, skip_empty_lines: true, trim: false, info: true }));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, unknown>; info: { lines: number } }>) {
      yield { row: unescapeCsvRow(record), where: `line ${info.lines}` };
    }
  } catch (error) {
    const lines = (error as { lines?: number }).lines;
    if (lines === undefined || !(error as { code?: string }).code?.startsWith("CSV_")) throw error;
    throw new ValidationError(`line ${lines}`, `is not valid CSV (${(error as Error).message})`, { cause: error });
  }
}

export async function readHead(file: string, bytes = 64): Promise<string> {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(bytes), 0, bytes, 0);
    return buffer.subarray(0, bytesRead).toString("latin1");
  } finally {
    await handle.close();
  }
}
