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
    const out = clean(input, 0, { seen: new WeakSet<object>(), chars: 0 });
    if (typeof out !== "object" || out === null || Array.isArray(out)) return {};
    const result = out as Record<string, unknown>;
    if (Buffer.byteLength(JSON.stringify(result)) <= METADATA_LIMITS.bytes) return result;
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
 */
interface Walk {
  seen: WeakSet<object>;
  chars: number;
}

function clean(value: unknown, depth: number, walk: Walk): unknown {
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
  const seen = walk.seen;
  if (seen.has(value)) return "[Circular]";
  if (depth >= METADATA_LIMITS.depth) return "[Truncated]";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      return value.slice(0, METADATA_LIMITS.items).map((v) => clean(v, depth + 1, walk) ?? null);
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `[${proto?.constructor?.name ?? "Object"}]`;
    const out: Record<string, unknown> = {};
    let n = 0;
    for (const key of Object.keys(value)) {
      if (n++ >= METADATA_LIMITS.items) break;
      if (isSecretKey(key)) continue;
      const v = clean((value as Record<string, unknown>)[key], depth + 1, walk);
      if (v !== undefined) out[key] = v;
    }
    return out;
  } finally {
    seen.delete(value);
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
