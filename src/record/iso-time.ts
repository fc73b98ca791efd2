/**
 * Record timestamps between epoch milliseconds and ISO 8601 (`2026-11-23T08:00:00.000Z`),
 * both ways, without a Date per call: every record is formatted once and parsed back a
 * few times (pricing, the SQLite row, the budget guard), about a microsecond each way
 * through Date. The results are exactly `new Date(ms).toISOString()` and `Date.parse(s)`;
 * only the common shapes take the short path, everything else goes through Date.
 */

/** 2000-01-01 and 10000-01-01: four-digit years, the only ones a record may carry. */
const MIN_MS = 946_684_800_000;
const MAX_MS = 253_402_300_800_000;

let minute = NaN;
let minutePrefix = "";

/** `new Date(ms).toISOString()` for an integer `ms` in years 2000-9999 (a Date otherwise). */
export function isoFromEpochMs(ms: number): string {
  if (!Number.isInteger(ms) || ms < MIN_MS || ms >= MAX_MS) return new Date(ms).toISOString();
  const m = Math.floor(ms / 60_000);
  // Calls come in time order: the minute ("2026-11-23T08:00:") is nearly always the last one's.
  if (m !== minute) {
    minutePrefix = new Date(m * 60_000).toISOString().slice(0, 17);
    minute = m;
  }
  const inMinute = ms - m * 60_000;
  const s = Math.floor(inMinute / 1000);
  const milli = inMinute - s * 1000;
  return `${minutePrefix}${s < 10 ? "0" : ""}${s}.${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}Z`;
}

const MINUTE_PREFIX = /^\d{4}-\d\d-\d\dT\d\d:\d\d:$/;
let parsedMinute = "";
let parsedMinuteMs = NaN;

/** `Date.parse(text)`; the canonical 24-character form is read digit by digit. */
export function epochMsFromIso(text: string): number {
  if (text.length !== 24 || text.charCodeAt(23) !== 90 /* Z */ || text.charCodeAt(19) !== 46 /* . */ || text.charCodeAt(16) !== 58 /* : */) {
    return Date.parse(text);
  }
  const s = digits2(text, 17);
  const milli = digits2(text, 20) * 10 + digit(text, 22);
  if (!(s >= 0 && s < 60 && milli >= 0)) return Date.parse(text);
  // The minute part is validated (and its epoch computed) by Date.parse once per minute.
  const prefix = text.slice(0, 17);
  if (prefix !== parsedMinute) {
    if (!MINUTE_PREFIX.test(prefix)) return Date.parse(text);
    const ms = Date.parse(`${prefix}00.000Z`);
    if (Number.isNaN(ms)) return Date.parse(text);
    parsedMinute = prefix;
    parsedMinuteMs = ms;
  }
  return parsedMinuteMs + s * 1000 + milli;
}

/** The digit at `i` (0-9), or -1000 for anything else (which makes every sum using it invalid). */
function digit(text: string, i: number): number {
  const d = text.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -1000;
}

function digits2(text: string, i: number): number {
  return digit(text, i) * 10 + digit(text, i + 1);
}
