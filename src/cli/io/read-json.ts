/**
 * JSON import files: an array of objects, one object (pretty-printed or not, or an
 * object holding a `records` array as the REST API returns), or one object per line
 * (NDJSON). Arrays and pretty-printed files are parsed whole: exports of that size
 * fit in memory, and a streaming JSON parser is not worth a dependency; large data
 * goes through CSV or NDJSON, which stream.
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { ValidationError } from "../../errors.js";
import type { SourceRow } from "./read-records.js";

export async function* readJsonRows(file: string): AsyncGenerator<SourceRow> {
  const input = createReadStream(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  let index = 0;
  let whole = false;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === "") continue;
    const parsed = parseLine(lineNo === 1 ? line.replace(/^\uFEFF/, "") : line);
    // The first line is not a whole JSON object: a pretty-printed object or an array.
    if (index === 0 && (parsed === undefined || Array.isArray(parsed) || Array.isArray((parsed as { records?: unknown }).records))) {
      whole = true;
      break;
    }
    if (parsed === undefined) throw new ValidationError(`rows[${index}]`, `line ${lineNo} is not valid JSON (one object per line is expected after the first)`);
    yield { row: objectRow(parsed, index++), where: `line ${lineNo}` };
  }
  lines.close();
  input.destroy();
  if (!whole) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse((await readFile(file, "utf8")).replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new ValidationError("file", `is not valid JSON (${(error as Error).message})`);
  }
  const items = Array.isArray(parsed) ? parsed : Array.isArray((parsed as { records?: unknown })?.records) ? (parsed as { records: unknown[] }).records : [parsed];
  for (const [i, item] of items.entries()) yield { row: objectRow(item, i) };
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function objectRow(item: unknown, index: number): Record<string, unknown> {
  if (!item || typeof item !== "object" || Array.isArray(item)) throw new ValidationError(`rows[${index}]`, "must be an object");
  return item as Record<string, unknown>;
}
