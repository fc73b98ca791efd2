/** The `--days`, `--start`, `--end`, `--time-zone` options shared by reporting commands. */
import type { Command } from "commander";
import { ValidationError } from "../errors.js";

export interface RangeFlags {
  days?: string;
  start?: string;
  end?: string;
  timeZone?: string;
}

export function addRangeOptions(command: Command, defaultDays?: number): Command {
  return command
    .option("--days <n>", `the last N days${defaultDays ? ` (default ${defaultDays})` : ""}`)
    .option("--start <date>", "ISO 8601 start, inclusive")
    .option("--end <date>", "ISO 8601 end, exclusive (default now)")
    .option("--time-zone <zone>", "IANA time zone for daily buckets (default UTC)");
}

export function rangeFrom(flags: RangeFlags): { days?: number; start?: string; end?: string; timeZone?: string } {
  const out: { days?: number; start?: string; end?: string; timeZone?: string } = {};
  if (flags.days !== undefined) {
    const days = Number(flags.days);
    if (!/^\d+(\.\d+)?$/.test(flags.days.trim()) || !(days > 0)) throw new ValidationError("days", `must be a positive number, got ${JSON.stringify(flags.days)}`);
    out.days = days;
  }
  if (flags.start !== undefined) out.start = flags.start;
  if (flags.end !== undefined) out.end = flags.end;
  if (flags.timeZone !== undefined) out.timeZone = flags.timeZone;
  return out;
}

/** For exports and reprices: with no start or days, everything since 2000. */
export function wholeHistoryUnlessGiven(range: ReturnType<typeof rangeFrom>): ReturnType<typeof rangeFrom> {
  return range.start === undefined && range.days === undefined ? { ...range, start: "2000-01-01T00:00:00.000Z" } : range;
}
