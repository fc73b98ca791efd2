/**
 * One append's rollup increments, summed in JavaScript: one upsert per distinct key of
 * each rollup and leaderboard table, instead of a grouped SELECT over the batch's new
 * rows per table (six scans and six sorts of the batch in SQLite: about 5 µs per record
 * in a 200-record batch, most of the append's rollup cost).
 *
 * The sums are exactly what the grouped SELECT of `foldSql` adds, or the batch is not
 * folded here at all (`fold` returns null and the caller runs the SQL): every summed
 * value must be a non-negative safe integer and the batch's column totals must stay
 * safe integers (so no sum loses a unit), and every key must be a string (or null where
 * the column allows it) without NUL, which keeps the composite keys below unambiguous.
 * Timestamps must also be free of NUL and surrogates, where JavaScript's slicing and
 * ordering could differ from SQLite's `substr` and `MIN`/`MAX` over UTF-8. Records
 * built by this package always pass; a row that does not sends its batch to SQL.
 */
import type { RecordValues } from "./rows.js";
import { COL } from "./rows.js";
import type { RollupTable } from "./rollups.js";

/**
 * The summed columns, in the order of a rollup's totals after `requests`; `priced` is
 * summed as `unpriced` (1 - priced), as RAW_SUMS does.
 */
const SUMMED = [
  COL.input_tokens,
  COL.output_tokens,
  COL.total_tokens,
  COL.cache_read_tokens,
  COL.cache_write_tokens,
  COL.reasoning_tokens,
  COL.total_cost_nanos,
  COL.error,
  COL.priced,
  COL.estimated,
  COL.cached,
] as const;
/** Where `unpriced` sits in a group's sums (after `requests`, in place of `priced`). */
const UNPRICED_AT = SUMMED.indexOf(COL.priced) + 1;

/** A group's key values, its sums (requests, then the SUMMED columns) and its first and last timestamps. */
export interface Group {
  key: unknown[];
  sums: number[];
  first: string;
  last: string;
}

/** A group's values in the column order of `upsertSql`. */
export function groupValues(g: Group): unknown[] {
  return [...g.key, ...g.sums, g.first, g.last];
}

const AWKWARD_TIMESTAMP = /[\0\uD800-\uDFFF]/;

function isKey(v: unknown): v is string {
  return typeof v === "string" && !v.includes("\0");
}

/** The batch's users and their record counts, or null when some row cannot be folded here. */
export function batchUsers(rows: readonly RecordValues[]): Map<string, number> | null {
  const users = new Map<string, number>();
  const totals = new Array<number>(SUMMED.length).fill(0);
  for (const row of rows) {
    const user = row[COL.user_id];
    const thread = row[COL.thread_id];
    const agent = row[COL.agent_name];
    const timestamp = row[COL.timestamp];
    if (
      !isKey(user) ||
      !(thread === null || isKey(thread)) ||
      !(agent === null || isKey(agent)) ||
      !isKey(row[COL.operation_type]) ||
      !isKey(row[COL.provider]) ||
      !isKey(row[COL.model]) ||
      !isKey(row[COL.day]) ||
      typeof timestamp !== "string" ||
      AWKWARD_TIMESTAMP.test(timestamp)
    ) {
      return null;
    }
    for (let i = 0; i < SUMMED.length; i++) {
      const v = row[SUMMED[i]];
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) return null;
      totals[i] += v;
    }
    users.set(user, (users.get(user) ?? 0) + 1);
  }
  // Non-negative addends: no partial sum of a group exceeds its column's batch total.
  return totals.every(Number.isSafeInteger) ? users : null;
}

/**
 * The batch's rows summed per cell: rows that agree on every key column any table groups by
 * (with `owners`, user and thread too), so a batch's few distinct keys are found with one
 * lookup per row and each table then sums cells instead of rows. A cell keeps its first row
 * for the key values.
 */
export function batchCells(rows: readonly RecordValues[], owners: boolean): Map<string, Cell> {
  const cells = new Map<string, Cell>();
  let previous: Cell | undefined;
  for (const row of rows) {
    const timestamp = row[COL.timestamp] as string;
    // Consecutive calls mostly share every key part (one agent's calls): no key to build then.
    let cell = previous !== undefined && sameCell(previous, row, timestamp, owners) ? previous : undefined;
    if (cell === undefined) {
      const hour = timestamp.slice(0, 13);
      // NUL separates the parts (batchUsers refused keys holding one); a null thread is "\0\0", never a string's.
      let key = `${hour}\0${row[COL.day] as string}\0${row[COL.provider] as string}\0${row[COL.model] as string}\0${(row[COL.agent_name] as string | null) ?? ""}\0${row[COL.operation_type] as string}`;
      if (owners) key += `\0${row[COL.user_id] as string}\0${row[COL.thread_id] === null ? "\0" : `${row[COL.thread_id] as string}\0x`}`;
      cell = cells.get(key);
      if (cell === undefined) {
        cell = { row, hour, key: [], sums: new Array<number>(SUMMED.length + 1).fill(0), first: timestamp, last: timestamp };
        cells.set(key, cell);
      }
    }
    if (timestamp < cell.first) cell.first = timestamp;
    if (timestamp > cell.last) cell.last = timestamp;
    const sums = cell.sums;
    sums[0]++;
    for (let i = 0; i < SUMMED.length; i++) sums[i + 1] += row[SUMMED[i]] as number;
    // The loop added `priced`; unpriced is its complement.
    sums[UNPRICED_AT] += 1 - 2 * (row[COL.priced] as number);
    previous = cell;
  }
  return cells;
}

/** A batch cell: a group of rows with every key part equal, its first row giving the values. */
export type Cell = Group & { row: RecordValues; hour: string };

/** Whether `row` belongs to `cell`, by its first row's key parts (a full hour prefix only). */
function sameCell(cell: Cell, row: RecordValues, timestamp: string, owners: boolean): boolean {
  const first = cell.row;
  return (
    cell.hour.length === 13 &&
    timestamp.startsWith(cell.hour) &&
    row[COL.day] === first[COL.day] &&
    row[COL.provider] === first[COL.provider] &&
    row[COL.model] === first[COL.model] &&
    row[COL.agent_name] === first[COL.agent_name] &&
    row[COL.operation_type] === first[COL.operation_type] &&
    (!owners || (row[COL.user_id] === first[COL.user_id] && row[COL.thread_id] === first[COL.thread_id]))
  );
}

/** One table's groups for a batch, summed from cells. */
export class TableFold {
  readonly groups = new Map<string, Group>();
  private readonly hasThread: boolean;
  private readonly hasUser: boolean;
  private readonly hourly: boolean;
  private readonly breakdown: boolean;

  constructor(readonly table: RollupTable) {
    this.hasThread = table.owner.includes("thread_id");
    this.hasUser = table.owner.includes("user_id");
    this.hourly = table.bucket === "hour";
    this.breakdown = table.breakdown;
  }

  add(cell: Cell): void {
    const row = cell.row;
    const thread = row[COL.thread_id] as string | null;
    if (this.hasThread && thread === null) return; // thread tables hold records with a thread
    const user = row[COL.user_id] as string;
    const bucket = this.hourly ? cell.hour : (row[COL.day] as string);
    const k: unknown[] = [];
    if (this.hasThread) k.push(thread);
    if (this.hasUser) k.push(user);
    k.push(bucket);
    if (this.breakdown) k.push(row[COL.provider], row[COL.model], row[COL.agent_name] ?? "", row[COL.operation_type]);
    const key = k.join("\0");
    const g = this.groups.get(key);
    if (g === undefined) {
      this.groups.set(key, { key: k, sums: [...cell.sums], first: cell.first, last: cell.last });
      return;
    }
    for (let i = 0; i < g.sums.length; i++) g.sums[i] += cell.sums[i];
    if (cell.first < g.first) g.first = cell.first;
    if (cell.last > g.last) g.last = cell.last;
  }
}
