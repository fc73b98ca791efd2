/**
 * An independent statement of what a stored usage record must be, written from the
 * record's documentation (src/record/types.ts, sanitize-metadata.ts), not from the code
 * that builds it. Returns the broken rules (empty when the record is sound).
 */
import type { UsageRecord } from "../../src/record/types.js";

const MAX_TOKENS = 1_000_000_000;
const METADATA_BYTES = 8192;

export function recordProblems(r: UsageRecord): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, rule: string) => ok || problems.push(rule);
  const count = (name: keyof UsageRecord) => {
    const v = r[name] as unknown;
    check(typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= 2 * MAX_TOKENS, `${name} is a non-negative integer (got ${String(v)})`);
  };
  for (const f of ["inputTokens", "outputTokens", "totalTokens", "cacheReadTokens", "cacheWriteTokens", "reasoningTokens"] as const) count(f);
  check(r.totalTokens === r.inputTokens + r.outputTokens, "totalTokens = inputTokens + outputTokens");
  check(r.cacheReadTokens + r.cacheWriteTokens <= r.inputTokens, "cache reads + writes are included in inputTokens");
  check(r.reasoningTokens <= r.outputTokens, "reasoning tokens are included in outputTokens");
  for (const f of ["inputCostNanos", "outputCostNanos", "totalCostNanos"] as const) {
    check(Number.isSafeInteger(r[f]) && r[f] >= 0, `${f} is a non-negative integer (got ${r[f]})`);
  }
  check(r.totalCostNanos === r.inputCostNanos + r.outputCostNanos, "totalCostNanos = input + output cost");
  for (const f of ["inputCost", "outputCost", "totalCost"] as const) check(Number.isFinite(r[f]) && r[f] >= 0, `${f} is a finite USD amount`);
  check(!r.cached || r.totalCostNanos === 0, "a cache hit costs nothing");
  check(r.priced || r.totalCostNanos === 0, "an unpriced record has no cost");
  for (const f of ["provider", "model"] as const) check(typeof r[f] === "string" && r[f].trim() !== "", `${f} is a non-blank string`);
  for (const f of ["id", "userId"] as const) check(typeof r[f] === "string" && r[f] !== "", `${f} is a non-empty string`);
  check(["chat", "llm", "embedding"].includes(r.operationType), "operationType is known");
  check(typeof r.timestamp === "string" && new Date(r.timestamp).toISOString() === r.timestamp, "timestamp is ISO 8601 UTC");
  check(r.latencyMs === null || (Number.isFinite(r.latencyMs) && r.latencyMs >= 0), "latencyMs is null or a finite non-negative number");
  check(Array.isArray(r.tags) && r.tags.every((t) => typeof t === "string"), "tags are strings");
  check(
    r.dimensions !== null && typeof r.dimensions === "object" && Object.values(r.dimensions).every((v) => typeof v === "string"),
    "dimensions are strings",
  );
  let json: string | undefined;
  try {
    json = JSON.stringify(r);
  } catch {
    check(false, "the record is JSON-serialisable");
  }
  if (json !== undefined) {
    // Serialisable without loss: no NaN, Infinity, undefined or class instances hiding in it.
    check(JSON.stringify(JSON.parse(json)) === json && deepEqualJson(JSON.parse(json), r), "the record survives a JSON round trip unchanged");
    let metadataSize = Infinity;
    try {
      metadataSize = Buffer.byteLength(JSON.stringify(r.requestMetadata));
    } catch {
      // reported below
    }
    check(metadataSize <= METADATA_BYTES, `request metadata is at most 8 KiB of JSON (got ${metadataSize})`);
  }
  return problems;
}

function deepEqualJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqualJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
