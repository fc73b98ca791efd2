/**
 * Cell parsers for imported rows. A CSV cell is a string, a JSON or SQLite value may
 * be anything: each parser takes either and names the column it rejects.
 */
import { ValidationError } from "../../errors.js";

export const blank = (v: unknown): boolean => v === undefined || v === null || v === "";

function shown(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object" && v !== null) return "an object";
  return JSON.stringify(v);
}

/** A string cell; numbers are taken as their digits, objects and arrays are refused. */
export function text(v: unknown, field: string): string | null {
  if (blank(v)) return null;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  throw new ValidationError(field, `must be a string, got ${shown(v)}`);
}

/** A numeric cell as a number; anything else is left for the record builder to reject by name. */
export function num(v: unknown): unknown {
  if (blank(v)) return undefined;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string" && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v.trim())) return Number(v);
  return v;
}

export function bool(v: unknown, field: string): boolean | undefined {
  if (blank(v)) return undefined;
  if (v === true || v === false) return v;
  const s = String(v).trim().toLowerCase();
  if (["true", "1", "yes"].includes(s)) return true;
  if (["false", "0", "no"].includes(s)) return false;
  throw new ValidationError(field, `must be true or false, got ${shown(v)}`);
}

export function json(v: unknown, field: string): unknown {
  if (blank(v)) return undefined;
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    throw new ValidationError(field, "must be JSON");
  }
}

export function jsonObject(v: unknown, field: string): Record<string, unknown> | undefined {
  const value = json(v, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw new ValidationError(field, `must be a JSON object, got ${shown(value)}`);
  return value as Record<string, unknown>;
}

/** Epoch seconds reach 11 digits only in the year 5138; milliseconds have 12 digits from 1973. */
const SECONDS_BELOW = 1e11;

/**
 * A time cell as epoch milliseconds or an ISO string with a zone. Accepted: ISO 8601
 * with or without a zone (without one, as SQLite's CURRENT_TIMESTAMP and Python's
 * `isoformat()` write it, it is read as UTC), epoch seconds (9-10 digits, fractions
 * allowed) and epoch milliseconds (12-13 digits), as strings or numbers.
 */
export function timestamp(v: unknown, field: string): string | number {
  if (blank(v)) throw new ValidationError(field, "is missing: every row needs the time of its call (a timestamp, startTime, created_at or date column)");
  if (typeof v === "number" || typeof v === "bigint") return epoch(Number(v), field);
  if (typeof v !== "string") throw new ValidationError(field, `must be an ISO 8601 time or epoch seconds or milliseconds, got ${shown(v)}`);
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const digits = s.split(".")[0].length;
    if (digits === 11 || digits > 13 || digits < 9 || (digits >= 12 && s.includes("."))) {
      throw new ValidationError(field, `${JSON.stringify(s)} is neither epoch seconds (10 digits) nor epoch milliseconds (13 digits)`);
    }
    return epoch(Number(s), field);
  }
  if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) return `${s.replace(" ", "T")}Z`;
  return s;
}

function epoch(n: number, field: string): number {
  if (!Number.isFinite(n) || n < 0) throw new ValidationError(field, `must be a time, got ${n}`);
  return n < SECONDS_BELOW ? Math.round(n * 1000) : n;
}

/** USD as a cell (`0.0125`) to whole nano-dollars. */
export function usdToNanos(v: unknown, field: string): number | undefined {
  const n = num(v);
  if (n === undefined) return undefined;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0) throw new ValidationError(field, `must be a non-negative amount in USD, got ${shown(v)}`);
  return Math.round(n * 1e9);
}

export function wholeNanos(v: unknown, field: string): number {
  const n = num(v ?? 0) ?? 0;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw new ValidationError(field, `must be a whole number of nano-dollars, got ${shown(v)}`);
  return n;
}
