/**
 * The dimension documents' fold (pure): the `null` group of a dimension first seen late,
 * subtraction, and the size bound (a wide dimension marked `over`, then the whole
 * document when even the markers do not fit), checked against grouping the records.
 */
import { describe, expect, it } from "vitest";
import type { UsageRecord } from "../../src/record/types.js";
import { applyDimChanges, DIM_DOC_BYTES, nameKey, type DimsDoc } from "../../src/stores/cosmos/global/dim-docs.js";
import { aggregateInMemory } from "../../src/stores/types.js";
import { makeRecord } from "../contract/make-record.js";

const at = (i: number) => new Date(Date.UTC(2037, 0, 1, 3) + i * 1000).toISOString();
const rec = (i: number, dimensions: Record<string, string>): UsageRecord =>
  makeRecord({ id: `r${i}`, userId: "u", timestamp: at(i), inputCostNanos: 10 + i, outputCostNanos: 0, totalCostNanos: 10 + i, dimensions });

/** What the document says for `name`: value (or null) to requests and cost. */
function view(doc: DimsDoc, name: string): Record<string, [number, number]> {
  const e = doc.d[nameKey(name)];
  const out: Record<string, [number, number]> = {};
  if (!e) return { null: [doc.all.requests, doc.all.costNanos] };
  if (e.none && e.none.requests > 0) out.null = [e.none.requests, e.none.costNanos];
  for (const v of Object.values(e.v ?? {})) out[v.value] = [v.t.requests, v.t.costNanos];
  return out;
}
function expected(records: UsageRecord[], name: string): Record<string, [number, number]> {
  const rows = aggregateInMemory(records, { filter: {}, groupBy: [`dimension:${name}`] });
  return Object.fromEntries(rows.map((r) => [String(r.key[`dimension:${name}`]), [r.requests, r.costNanos]]));
}

describe("dimension documents", () => {
  it("count a dimension's null group from the period's start, also when it is first seen late, and subtract exactly", () => {
    const records = [rec(0, {}), rec(1, { tenant: "a" }), rec(2, { team: 'x "q"' }), rec(3, { tenant: "b", team: "ü" }), rec(4, {})];
    let doc = applyDimChanges(null, "hour", 1, "2037-01-01T03", records.map((r) => ({ sign: 1 as const, r })))!;
    for (const name of ["tenant", "team", "absent"]) expect(view(doc, name), name).toEqual(expected(records, name));
    // Re-priced (old out, new in) and pruned records.
    const repriced = { ...records[3], totalCostNanos: 999 };
    doc = applyDimChanges(doc, "hour", 1, "2037-01-01T03", [
      { sign: -1, r: records[3] },
      { sign: 1, r: repriced },
      { sign: -1, r: records[0] },
    ])!;
    const now = [records[1], records[2], repriced, records[4]];
    for (const name of ["tenant", "team", "absent"]) expect(view(doc, name), name).toEqual(expected(now, name));
    // Everything subtracted: no document.
    expect(applyDimChanges(doc, "hour", 1, "2037-01-01T03", now.map((r) => ({ sign: -1 as const, r })))).toBeNull();
  });

  it("stay under the size bound: the widest dimension is marked over and later deltas of it are skipped", () => {
    const wide = Array.from({ length: 700 }, (_, i) => rec(i, { request: `${i}-${"z".repeat(300)}`, tenant: `t${i % 3}` }));
    const doc = applyDimChanges(null, "day", 1, "2037-01-01", wide.map((r) => ({ sign: 1 as const, r })))!;
    expect(Buffer.byteLength(JSON.stringify(doc))).toBeLessThanOrEqual(DIM_DOC_BYTES);
    expect(doc.d[nameKey("request")].over).toBe(true);
    expect(view(doc, "tenant")).toEqual(expected(wide, "tenant"));
    const more = applyDimChanges(doc, "day", 1, "2037-01-01", [{ sign: 1, r: rec(9999, { request: "new", tenant: "t0" }) }])!;
    expect(more.d[nameKey("request")]).toEqual({ name: "request", over: true });
    expect(view(more, "tenant")).toEqual(expected([...wide, rec(9999, { request: "new", tenant: "t0" })], "tenant"));
  });

  it("mark the whole period over when even one marker per dimension name does not fit", () => {
    const many = Array.from({ length: 40 }, (_, i) => rec(i, Object.fromEntries(Array.from({ length: 200 }, (_, j) => [`dim_${i}_${j}`, "v".repeat(200)]))));
    const doc = applyDimChanges(null, "day", 1, "2037-01-01", many.map((r) => ({ sign: 1 as const, r })))!;
    expect(doc.over).toBe(true);
    expect(doc.d).toEqual({});
    expect(doc.all.requests).toBe(40);
  });
});
