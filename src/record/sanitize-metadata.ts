/**
 * The rule that keeps request metadata small and safe to store, whatever an
 * application puts in its run config:
 * - only plain JSON values survive (functions, symbols and class instances become strings or are dropped);
 * - objects nest at most 4 levels; deeper values become "[Truncated]";
 * - cycles become "[Circular]";
 * - strings are cut at 1,024 characters, arrays at 50 items, objects at 50 keys;
 * - keys that look like credentials are dropped with their value, and credential-looking parts
 *   of strings are redacted (the rule is in `redact-secrets.ts`);
 * - if the result still exceeds 8 KiB of JSON, keys are dropped from the end and `_truncated: true` is set.
 * It never throws.
 */
import { isSecretKey, redactSecrets } from "./redact-secrets.js";

export const METADATA_LIMITS = { depth: 4, stringLength: 1024, items: 50, bytes: 8192 } as const;

export function sanitizeMetadata(input: unknown): Record<string, unknown> {
  try {
    const walk: Walk = { ancestors: [], chars: 0, bound: 0 };
    const out = clean(input, 0, walk);
    if (typeof out !== "object" || out === null || Array.isArray(out)) return {};
    const result = out as Record<string, unknown>;
    // Most metadata is far below the limit: its bound says so without serialising it.
    if (walk.bound <= METADATA_LIMITS.bytes || Buffer.byteLength(JSON.stringify(result)) <= METADATA_LIMITS.bytes) return result;
    // Each entry's size is measured once; entries are kept in order while they fit.
    const budget = METADATA_LIMITS.bytes - Buffer.byteLength(',"_truncated":true}');
    const kept: Record<string, unknown> = {};
    let size = 1; // "{"
    for (const [key, value] of Object.entries(result)) {
      const entry = Buffer.byteLength(JSON.stringify(key) + ":" + JSON.stringify(value)) + 1;
      if (size + entry > budget) break;
      kept[key] = value;
      size += entry;
    }
    kept._truncated = true;
    return kept;
  } catch {
    return { _truncated: true };
  }
}

/**
 * `chars` counts the string characters kept so far. Once it passes `METADATA_LIMITS.bytes`, the
 * JSON is over the limit and the top-level entry being cleaned, and every later one, will be
 * dropped: their strings are not worth redacting, which bounds the work per record.
 * `bound` is at least the UTF-8 size of the result's JSON (see `jsonBound`).
 * `ancestors` are the objects being walked (at most `depth` of them): a cycle leads back to one.
 */
interface Walk {
  ancestors: object[];
  chars: number;
  bound: number;
}

/**
 * The most UTF-8 bytes JSON can spend on a string of `length` UTF-16 units: 6 per unit (a
 * control character or a lone surrogate is escaped as `\uXXXX`; anything else takes at most
 * 3 bytes per unit), and the quotes.
 */
function stringBound(length: number): number {
  return 6 * length + 2;
}

/** The longest JSON of a finite number (`-1.2345678901234567e-308`), rounded up. */
const NUMBER_BOUND = 25;

function clean(value: unknown, depth: number, walk: Walk): unknown {
  const out = cleanValue(value, depth, walk);
  if (typeof out === "string") walk.bound += stringBound(out.length);
  else if (typeof out === "number") walk.bound += NUMBER_BOUND;
  else if (out === null || typeof out === "boolean") walk.bound += 5;
  // Objects and arrays added their own (see cleanValue); undefined is left out of the JSON.
  return out;
}

function cleanValue(value: unknown, depth: number, walk: Walk): unknown {
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string") {
    if (walk.chars > METADATA_LIMITS.bytes) return "";
    const text = cleanString(value);
    walk.chars += text.length;
    return text;
  }
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "object") return undefined;
  const ancestors = walk.ancestors;
  if (ancestors.includes(value)) return "[Circular]";
  if (depth >= METADATA_LIMITS.depth) return "[Truncated]";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  ancestors.push(value);
  try {
    if (Array.isArray(value)) {
      // Brackets, and a comma and at most `null` for each item (counted by clean).
      walk.bound += 2;
      return value.slice(0, METADATA_LIMITS.items).map((v) => {
        walk.bound += 1;
        const item = clean(v, depth + 1, walk);
        if (item === undefined) walk.bound += 5;
        return item ?? null;
      });
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `[${proto?.constructor?.name ?? "Object"}]`;
    const out: Record<string, unknown> = {};
    walk.bound += 2;
    let n = 0;
    for (const key of Object.keys(value)) {
      if (n++ >= METADATA_LIMITS.items) break;
      if (isSecretKey(key)) continue;
      const v = clean((value as Record<string, unknown>)[key], depth + 1, walk);
      if (v === undefined) continue;
      out[key] = v;
      // The key, its colon and a comma.
      walk.bound += stringBound(key.length) + 2;
    }
    return out;
  } finally {
    ancestors.pop();
  }
}

/**
 * Redacted before the cut, so a credential is never split into an unrecognisable half; the
 * input is first bounded (twice the limit) so a huge string costs no more than a long one.
 */
function cleanString(value: string): string {
  const limit = METADATA_LIMITS.stringLength;
  const redacted = redactSecrets(value.length > 2 * limit ? value.slice(0, 2 * limit) : value);
  return redacted.length > limit ? redacted.slice(0, limit) + "…" : redacted;
}
