/**
 * Period windows of budget limits, as pure functions of an instant. Calendar
 * periods (day, ISO week, month) start at a local reset time in an IANA zone and
 * follow daylight-saving changes: a day may last 23 or 25 hours. Rolling windows
 * are the last N hours up to the instant.
 */
import type { BudgetPeriod } from "./limits.js";

export interface PeriodWindow {
  /** Epoch milliseconds, inclusive. */
  start: number;
  /** Epoch milliseconds, exclusive; for a rolling window, the instant itself. */
  end: number;
  /** When the period starts afresh; null for rolling windows (they slide). */
  resetsAt: number | null;
}

export interface PeriodSpec {
  period: BudgetPeriod;
  timeZone: string;
  resetTime: string;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** The window of `spec` that contains `now`. */
export function windowAt(spec: PeriodSpec, now: number): PeriodWindow {
  if (typeof spec.period === "object") {
    return { start: now - spec.period.rollingHours * HOUR, end: now, resetsAt: null };
  }
  if (spec.period === "minute" || spec.period === "hour") {
    const size = spec.period === "minute" ? 60_000 : HOUR;
    const start = Math.floor(now / size) * size;
    return { start, end: start + size, resetsAt: start + size };
  }
  const [hh, mm] = spec.resetTime.split(":").map(Number);
  const local = localParts(now, spec.timeZone);
  // The local calendar date the candidate period starts on, as a UTC date number.
  let startDate: number;
  let step: (date: number, n: number) => number;
  if (spec.period === "day") {
    startDate = Date.UTC(local.year, local.month - 1, local.day);
    step = (d, n) => d + n * DAY;
  } else if (spec.period === "week") {
    const today = Date.UTC(local.year, local.month - 1, local.day);
    const weekday = (new Date(today).getUTCDay() + 6) % 7; // Monday = 0
    startDate = today - weekday * DAY;
    step = (d, n) => d + n * 7 * DAY;
  } else {
    startDate = Date.UTC(local.year, local.month - 1, 1);
    step = (d, n) => {
      const x = new Date(d);
      return Date.UTC(x.getUTCFullYear(), x.getUTCMonth() + n, 1);
    };
  }
  let start = zonedInstant(startDate, hh, mm, spec.timeZone);
  // Before today's reset time we are still in the previous period.
  if (start > now) {
    startDate = step(startDate, -1);
    start = zonedInstant(startDate, hh, mm, spec.timeZone);
  }
  const end = zonedInstant(step(startDate, 1), hh, mm, spec.timeZone);
  return { start, end, resetsAt: end };
}

/**
 * The instant a local wall time (`date` as a UTC date number, plus hh:mm) happens in
 * `timeZone`. An ambiguous time (clocks going back) is its first occurrence; a time
 * that does not exist (clocks going forward) moves forward by the gap, as Temporal's
 * "compatible" rule does.
 */
export function zonedInstant(date: number, hh: number, mm: number, timeZone: string): number {
  const wall = date + hh * HOUR + mm * 60_000;
  const before = offsetAt(wall - DAY, timeZone);
  const after = offsetAt(wall + DAY, timeZone);
  const candidates = [wall - before, wall - after].filter((t) => t + offsetAt(t, timeZone) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  return wall - before;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function localParts(instant: number, timeZone: string): LocalParts {
  const out: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(instant)) if (p.type !== "literal") out[p.type] = Number(p.value);
  return { year: out.year, month: out.month, day: out.day, hour: out.hour, minute: out.minute, second: out.second };
}

/** The zone's offset from UTC at an instant, in milliseconds (whole seconds). */
export function offsetAt(instant: number, timeZone: string): number {
  const p = localParts(instant, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}
