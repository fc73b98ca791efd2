/**
 * Usage tables teams already keep in SQLite, read straight from their file (opened
 * read-only): the reference monitors' `token_usage` table (provider, service_type,
 * operation, metadata, ...) and `api_usage` table (feature, session_id, metadata),
 * or any table named with `--table` whose columns `import` knows.
 *
 * The tables' integer ids count rows of that one file, not calls across a fleet, so
 * they are not used as record ids: each row's id is derived from its table and
 * content (see import-rows), and importing the same file again stores nothing twice.
 */
import Database from "better-sqlite3";
import { ValidationError } from "../../errors.js";
import type { SourceRow } from "./read-records.js";

export const KNOWN_TABLES = ["token_usage", "api_usage"] as const;

export async function* readSqliteRows(file: string, requested?: string): AsyncGenerator<SourceRow> {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma("schema_version"); // reads the header: a file that is not a database fails here
  } catch (error) {
    throw new ValidationError("file", `${file} is not a readable SQLite database (${(error as Error).message})`, { cause: error });
  }
  try {
    const table = chooseTable(db, file, requested);
    const quoted = `"${table.replace(/"/g, '""')}"`;
    let statement: Database.Statement;
    try {
      statement = db.prepare(`SELECT * FROM ${quoted} ORDER BY rowid`);
    } catch {
      statement = db.prepare(`SELECT * FROM ${quoted}`); // a WITHOUT ROWID table
    }
    let n = 0;
    for (const raw of statement.iterate() as Iterable<Record<string, unknown>>) {
      n++;
      const { id, ...rest } = raw;
      yield { row: { source_table: table, source_id: id ?? null, ...rest }, where: id === undefined || id === null ? `${table} row ${n}` : `${table} id ${String(id)}` };
    }
  } finally {
    db.close();
  }
}

function chooseTable(db: Database.Database, file: string, requested: string | undefined): string {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name);
  if (requested !== undefined) {
    if (!tables.includes(requested)) throw new ValidationError("table", `${JSON.stringify(requested)} is not a table of ${file} (tables: ${tables.join(", ") || "none"})`);
    return requested;
  }
  const known = KNOWN_TABLES.filter((t) => tables.includes(t));
  if (known.length === 1) return known[0];
  if (known.length > 1) throw new ValidationError("table", `${file} has both ${known.join(" and ")}: choose one with --table`);
  throw new ValidationError("table", `${file} has no ${KNOWN_TABLES.join(" or ")} table (tables: ${tables.join(", ") || "none"}): name one with --table`);
}
