/**
 * CSV formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that begins with
 * `=`, `+`, `-`, `@`, TAB or CR as a formula, so an attacker-chosen user id, model name or
 * error message could run `=HYPERLINK(...)` or `+cmd|' /C calc'!A0` on the analyst's machine.
 * Such a text cell is written with a leading `'`, which spreadsheets show as text. A text cell
 * that already begins with `'` gets one more, so `unescapeCsvCell` can restore every value
 * exactly (this package's import calls it). Numbers are numbers, not formulas: numeric
 * columns and text that is a plain number (`-5`, `+1.5e3`) are written as they are.
 */
const TRIGGER = /^[=+\-@\t\r']/;
const PLAIN_NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const ESCAPED = /^'[=+\-@\t\r']/;

/** A text cell made safe to open in a spreadsheet. */
export function escapeCsvText(text: string): string {
  return TRIGGER.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text;
}

/** The original text of a cell written by `escapeCsvText` (other cells are returned as they are). */
export function unescapeCsvCell(cell: string): string {
  return ESCAPED.test(cell) ? cell.slice(1) : cell;
}

/** Every cell of a parsed CSV row (csv-parse `columns: true`) restored. */
export function unescapeCsvRow(row: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(row)) {
    const value = row[key];
    if (typeof value === "string" && value.charCodeAt(0) === 39 /* ' */) row[key] = unescapeCsvCell(value);
  }
  return row;
}
