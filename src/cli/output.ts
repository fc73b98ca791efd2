/** Human output: plain tables (no colours, so they survive pipes and logs) and number formats. */
import Table from "cli-table3";

export function table(head: string[], rows: Array<Array<string | number>>, numericFrom = 1): string {
  const t = new Table({
    head,
    style: { head: [], border: [] },
    colAligns: head.map((_, i) => (i >= numericFrom ? "right" : "left")),
  });
  for (const row of rows) t.push(row.map(String));
  return t.toString();
}

export function usd(value: number): string {
  return `$${value.toFixed(value !== 0 && Math.abs(value) < 0.01 ? 6 : 4)}`;
}

export function count(value: number): string {
  return value.toLocaleString("en-US");
}

/**
 * An instant as a wall-clock time in an IANA zone, with the offset in force then:
 * `2026-03-01 01:00 GMT+1`. Each end of a range carries its own offset (DST may differ).
 */
export function zonedTime(iso: string, timeZone = "UTC"): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "shortOffset",
  }).formatToParts(new Date(iso));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  const offset = get("timeZoneName");
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")} ${/^GMT([+-]0)?$/.test(offset) ? "UTC" : offset}`;
}
