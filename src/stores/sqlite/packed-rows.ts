/**
 * A batch of rows as it crosses to the SQLite worker: by column, a column whose values are all
 * the same (`Object.is`) sent once. A batch of one agent's calls repeats most of its 36 columns
 * (user, thread, model, provider, flags, metadata...): cloning one value instead of one per
 * row, and not recreating those strings on the other side, is most of the message's cost.
 */
import { ValidationError } from "../../errors.js";
import { RECORD_COLUMNS, type RecordValues } from "./rows.js";

export interface PackedRows {
  count: number;
  /** Per column: its one value when `same[c]`, else its `count` values in row order. */
  columns: unknown[];
  same: boolean[];
}

export function packRows(rows: readonly RecordValues[]): PackedRows {
  const count = rows.length;
  const columns = new Array<unknown>(RECORD_COLUMNS);
  const same = new Array<boolean>(RECORD_COLUMNS);
  for (let c = 0; c < RECORD_COLUMNS; c++) {
    const first = count > 0 ? rows[0][c] : null;
    let all = true;
    for (let i = 1; i < count && all; i++) all = Object.is(rows[i][c], first);
    same[c] = all;
    columns[c] = all ? first : rows.map((r) => r[c]);
  }
  return { count, columns, same };
}

/** The rows again, in column order; a batch of another shape is refused by name. */
export function unpackRows(packed: PackedRows): RecordValues[] {
  const { count, columns, same } = (packed ?? {}) as Partial<PackedRows>;
  if (!Number.isSafeInteger(count) || count! < 0 || !Array.isArray(columns) || !Array.isArray(same) || columns.length !== RECORD_COLUMNS || same.length !== RECORD_COLUMNS) {
    throw new ValidationError("rows", `must be a packed batch of ${RECORD_COLUMNS} columns`);
  }
  for (let c = 0; c < RECORD_COLUMNS; c++) {
    if (!same[c] && (!Array.isArray(columns[c]) || (columns[c] as unknown[]).length !== count)) {
      throw new ValidationError(`rows.columns[${c}]`, `must hold ${count} values`);
    }
  }
  const rows = new Array<RecordValues>(count!);
  for (let i = 0; i < count!; i++) {
    const row = new Array<unknown>(RECORD_COLUMNS);
    for (let c = 0; c < RECORD_COLUMNS; c++) row[c] = same[c] ? columns[c] : (columns[c] as unknown[])[i];
    rows[i] = row;
  }
  return rows;
}
