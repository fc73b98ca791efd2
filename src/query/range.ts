/** Time ranges for every query: `{ start?, end?, days? }`, start inclusive, end exclusive, UTC. */
import { ValidationError } from "../errors.js";

export interface RangeInput {
  start?: Date | string;
  end?: Date | string;
  /** The last N days up to `end` (default now) when `start` is not given. @default 30 */
  days?: number;
}

export interface ResolvedRange {
  start: string;
  end: string;
}

const DAY_MS = 86_400_000;
export const DEFAULT_DAYS = 30;
/** A range longer than this is a mistake (or a request to dump everything): refused. */
const MAX_DAYS = 3660;

export function resolveRange(input: RangeInput = {}, now: Date = new Date()): ResolvedRange {
  const end = input.end === undefined ? now : toDate(input.end, "end");
  let start: Date;
  if (input.start !== undefined) {
    start = toDate(input.start, "start");
  } else {
    const days = input.days ?? DEFAULT_DAYS;
    if (typeof days !== "number" || !Number.isFinite(days) || days <= 0 || days > MAX_DAYS) {
      throw new ValidationError("days", `must be a number of days between 1 and ${MAX_DAYS}, got ${String(days)}`);
    }
    start = new Date(end.getTime() - days * DAY_MS);
  }
  if (start.getTime() >= end.getTime()) {
    throw new ValidationError("start", `start (${start.toISOString()}) must be before end (${end.toISOString()})`);
  }
  return { start: start.toISOString(), end: end.toISOString() };
}

/** ISO 8601 dates and date-times only: `Date.parse` alone accepts far too much. */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** A date-time without an offset is UTC (JavaScript would read it as the machine's local time). */
function parseIso(text: string): Date {
  if (!ISO_DATE.test(text)) return new Date(NaN);
  const hasTime = text.length > 10;
  const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/.test(text.slice(10));
  return new Date(hasTime && !hasZone ? `${text.replace(" ", "T")}Z` : text);
}

function toDate(value: Date | string, field: string): Date {
  const date = value instanceof Date ? value : typeof value === "string" ? parseIso(value.trim()) : new Date(NaN);
  if (Number.isNaN(date.getTime())) {
    throw new ValidationError(field, `must be a Date or an ISO 8601 date string, got ${JSON.stringify(value)}`);
  }
  return date;
}

/**
 * Splits a range into an hour-aligned middle (answered from rollups) and the
 * partial hours at either end (answered from raw records), so that any range is
 * exact and most of it is cheap.
 */
export function splitAtHours(range: ResolvedRange): ResolvedRange[] {
  const HOUR = 3_600_000;
  const s = Date.parse(range.start);
  const e = Date.parse(range.end);
  const firstHour = Math.ceil(s / HOUR) * HOUR;
  const lastHour = Math.floor(e / HOUR) * HOUR;
  if (firstHour >= lastHour) return [range];
  const parts: ResolvedRange[] = [];
  if (s < firstHour) parts.push({ start: range.start, end: new Date(firstHour).toISOString() });
  parts.push({ start: new Date(firstHour).toISOString(), end: new Date(lastHour).toISOString() });
  if (lastHour < e) parts.push({ start: new Date(lastHour).toISOString(), end: range.end });
  return parts;
}
