/**
 * Defensive readers shared by the extraction functions. What a callback receives is written by
 * many client packages (and, in tests, by anyone), so every read may meet a getter that throws,
 * a Proxy, a cycle or a wrong type. These helpers turn all of that into `undefined`.
 */

/** Largest token count accepted; anything above is treated as corrupt, not as usage. */
export const MAX_TOKEN_COUNT = 1e9;

export type Dict = Record<string, unknown>;

/** The object itself when `value` is a non-array object, else undefined. */
export function asDict(value: unknown): Dict | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Dict) : undefined;
}

/** `obj[key]`, or undefined when `obj` is not an object or the read throws. */
export function read(obj: unknown, key: string): unknown {
  if (obj === null || (typeof obj !== "object" && typeof obj !== "function")) return undefined;
  try {
    return (obj as Dict)[key];
  } catch {
    return undefined;
  }
}

/**
 * Reads a path of up to four keys, stopping at the first missing step. Fixed parameters
 * rather than a rest array: this runs several times per model call.
 */
export function readPath(obj: unknown, k1: string, k2?: string, k3?: string, k4?: string): unknown {
  let current = read(obj, k1);
  if (k2 === undefined || current === undefined) return current;
  current = read(current, k2);
  if (k3 === undefined || current === undefined) return current;
  current = read(current, k3);
  if (k4 === undefined || current === undefined) return current;
  return read(current, k4);
}

/** A token count: a non-negative safe integer up to MAX_TOKEN_COUNT; anything else is absent. */
export function asCount(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= MAX_TOKEN_COUNT
    ? value
    : undefined;
}

/** Array elements (at most `limit`), or [] when not an array or iteration throws. */
export function asList(value: unknown, limit = 1000): unknown[] {
  if (!Array.isArray(value)) return [];
  try {
    return value.slice(0, limit);
  } catch {
    return [];
  }
}

/**
 * A model or provider name: a trimmed non-empty string of sane length. Streaming merges
 * concatenate string metadata chunk by chunk (`"gpt-4o" + "gpt-4o"`), so a name made of a
 * repeated unit is reduced to that unit.
 */
export function asName(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const name = collapseRepeats(value.trim());
  return name.length > 0 && name.length <= 256 ? name : undefined;
}

/** `"abcabc"` -> `"abc"`; strings that are not an exact repetition are returned unchanged. */
export function collapseRepeats(text: string): string {
  const n = text.length;
  if (n < 4 || n > 4096) return text;
  for (let size = 2; size <= n / 2; size++) {
    if (n % size !== 0) continue;
    const unit = text.slice(0, size);
    if (unit.repeat(n / size) === text) return unit;
  }
  return text;
}
