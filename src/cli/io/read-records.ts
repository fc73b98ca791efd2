/**
 * Reads an import file as a stream of plain rows: CSV (header row, any columns)
 * or JSON (an array of objects, or one object per line).
 */
import { createReadStream } from "node:fs";
import { open, readFile, stat } from "node:fs/promises";
import { parse } from "csv-parse";
import { createInterface } from "node:readline";
import { ValidationError } from "../../errors.js";
import { unescapeCsvRow } from "../../server/csv/formula-escape.js";

export type FileFormat = "csv" | "json";

/** The format named by `--format`, else by the extension, else by the first character. */
export async function detectFormat(file: string, requested?: string): Promise<FileFormat> {
  if (requested !== undefined) {
    if (requested !== "csv" && requested !== "json") throw new ValidationError("format", `must be csv or json, got ${JSON.stringify(requested)}`);
    return requested;
  }
  if (/\.csv$/i.test(file)) return "csv";
  if (/\.(json|jsonl|ndjson)$/i.test(file)) return "json";
  const first = (await readHead(file)).trimStart()[0];
  return first === "[" || first === "{" ? "json" : "csv";
}

export async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}

export async function* readRows(file: string, format: FileFormat): AsyncGenerator<Record<string, unknown>> {
  if (format === "csv") {
    const parser = createReadStream(file).pipe(parse({ columns: true, bom: true, skip_empty_lines: true, trim: false }));
    for await (const row of parser) yield unescapeCsvRow(row as Record<string, unknown>);
    return;
  }
  const head = (await readHead(file)).trimStart();
  if (head.startsWith("[")) {
    // A JSON array is parsed whole: exports of this size fit in memory, and a
    // streaming JSON parser is not worth a dependency. Large data: use CSV or NDJSON.
    let parsed: unknown;
    try {
      parsed = JSON.parse((await readFile(file, "utf8")).replace(/^\uFEFF/, ""));
    } catch (error) {
      throw new ValidationError("file", `is not valid JSON (${(error as Error).message})`);
    }
    if (!Array.isArray(parsed)) throw new ValidationError("file", "a JSON import must be an array of records");
    for (const [i, item] of parsed.entries()) yield objectRow(item, i);
    return;
  }
  let index = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line.trim() === "") continue;
    let item: unknown;
    try {
      item = JSON.parse(line);
    } catch {
      throw new ValidationError(`rows[${index}]`, "is not valid JSON");
    }
    yield objectRow(item, index++);
  }
}

function objectRow(item: unknown, index: number): Record<string, unknown> {
  if (!item || typeof item !== "object" || Array.isArray(item)) throw new ValidationError(`rows[${index}]`, "must be an object");
  return item as Record<string, unknown>;
}

async function readHead(file: string): Promise<string> {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64), 0, 64, 0);
    return buffer.subarray(0, bytesRead).toString("utf8").replace(/^\uFEFF/, "");
  } finally {
    await handle.close();
  }
}
