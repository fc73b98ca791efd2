/**
 * Calendar buckets (day, ISO week, month) in an IANA time zone, computed from UTC
 * hour keys (`YYYY-MM-DDTHH`). Exact for every zone whose offset is whole hours;
 * for zones with :30 or :45 offsets the hour containing local midnight is counted
 * in the day it starts in (documented in the README).
 */
import { ValidationError } from "../errors.js";

export type Granularity = "day" | "week" | "month";

const formatters = new Map<string, Intl.DateTimeFormat>();

export function assertTimeZone(timeZone: string): string {
  if (typeof timeZone !== "string" || timeZone === "") throw new ValidationError("timeZone", "must be an IANA time zone such as Europe/Paris");
  try {
    formatterFor(timeZone);
  } catch {
    throw new ValidationError("timeZone", `unknown time zone ${JSON.stringify(timeZone)}; use an IANA name such as Asia/Tokyo`);
  }
  return timeZone;
}

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Local calendar date `YYYY-MM-DD` of an instant. */
export function localDate(instant: Date | number, timeZone: string): string {
  return formatterFor(timeZone).format(instant);
}

/** The bucket label for a local date. Weeks start on Monday and are labelled by that Monday. */
export function bucketOf(date: string, granularity: Granularity): string {
  if (granularity === "day") return date;
  if (granularity === "month") return date.slice(0, 7);
  const d = new Date(`${date}T00:00:00Z`);
  const weekday = (d.getUTCDay() + 6) % 7; // Monday = 0
  return new Date(d.getTime() - weekday * 86_400_000).toISOString().slice(0, 10);
}

/** Maps UTC hour keys to bucket labels, memoised per call site. */
export function hourBucketer(timeZone: string, granularity: Granularity): (hour: string) => string {
  const cache = new Map<string, string>();
  return (hour) => {
    let label = cache.get(hour);
    if (label === undefined) {
      label = bucketOf(localDate(Date.parse(`${hour}:00:00Z`), timeZone), granularity);
      cache.set(hour, label);
    }
    return label;
  };
}

/** Every bucket label from the range's first to last local day, in order (for zero-filling). */
export function bucketsBetween(startIso: string, endIso: string, timeZone: string, granularity: Granularity): string[] {
  const labels: string[] = [];
  const first = localDate(Date.parse(startIso), timeZone);
  const last = localDate(Date.parse(endIso) - 1, timeZone);
  let day = first;
  for (let i = 0; i < 4000 && day <= last; i++) {
    const label = bucketOf(day, granularity);
    if (labels[labels.length - 1] !== label) labels.push(label);
    day = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  }
  return labels;
}
