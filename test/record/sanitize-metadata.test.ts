/**
 * The 8 KiB rule of sanitize-metadata.ts at its edge: metadata whose JSON is exactly the limit
 * is kept whole, one byte more is truncated, whatever its characters cost in UTF-8 or JSON
 * escapes (the size is first bounded without serialising, so the bound must never be short).
 */
import { describe, expect, it } from "vitest";
import { METADATA_LIMITS, sanitizeMetadata } from "../../src/record/sanitize-metadata.js";

const size = (o: unknown) => Buffer.byteLength(JSON.stringify(o));

/** Metadata about half made of `unit`, filled with ASCII until its JSON is exactly `bytes` long. */
function metadataOf(bytes: number, unit: string, shape: (text: string) => unknown): Record<string, unknown> {
  const m: Record<string, unknown> = { n: 1.5, flag: true, none: null, list: [1, "two", { three: 3 }] };
  const pad = unit.repeat(Math.floor(1000 / unit.length));
  for (let i = 0; size(m) < bytes / 2; i++) m[`pad${i}`] = shape(pad);
  // Strings stay under the 1,024-character cut; a new field starts while there is room for one.
  let field = 0;
  m.z0 = "";
  while (size(m) < bytes) {
    const current = m[`z${field}`] as string;
    if (current.length >= 1000 && bytes - size(m) > 20) m[`z${++field}`] = "";
    else m[`z${field}`] = `${current}a`;
  }
  return m;
}

describe("sanitized metadata size", () => {
  it.each([
    ["ASCII", "x"],
    ["two-byte UTF-8", "é"],
    ["three-byte UTF-8", "用"],
    ["a surrogate pair", "😀"],
    ["escaped quotes and backslashes", '"\\'],
    ["control characters", "\u0001\n"],
  ])("%s: the limit is kept whole, a byte more is truncated", (_name, unit) => {
    for (const shape of [(t: string) => t, (t: string) => ({ deep: [t] })]) {
      const at = metadataOf(METADATA_LIMITS.bytes, unit, shape);
      expect(size(at)).toBe(METADATA_LIMITS.bytes);
      expect(sanitizeMetadata(at)).toEqual(at);
      const over = { ...at, z0: `${at.z0 as string}a` };
      expect(size(over)).toBe(METADATA_LIMITS.bytes + 1);
      const out = sanitizeMetadata(over);
      expect(out._truncated).toBe(true);
      expect(size(out)).toBeLessThanOrEqual(METADATA_LIMITS.bytes);
    }
  });
});
