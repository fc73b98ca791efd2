/**
 * Dimension names are user input: names that are also Object.prototype's keys
 * ("__proto__", "constructor", "toString") must be kept as values like any other, and a
 * record without them must group under null, not under what the prototype holds.
 */
import { describe, expect, it } from "vitest";
import { createPricer } from "../../src/pricing/index.js";
import { buildRecord } from "../../src/record/build-record.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { aggregateInMemory, type GroupKey } from "../../src/stores/types.js";

const pricer = createPricer({ logger: { warn() {} } });
const NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty"];

function input(i: number, dimensions: unknown) {
  return {
    id: `dim-${i}`,
    provider: "openai",
    model: "gpt-4o-mini",
    userId: `u-${i % 3}`,
    timestamp: new Date(Date.UTC(2031, 4, 2, 10, i)).toISOString(),
    inputTokens: 100 + i,
    outputTokens: 10 + i,
    dimensions,
  };
}

describe("dimension names shared with Object.prototype", () => {
  // JSON.parse makes "__proto__" an own key, as a request body or a config file would.
  const hostile = JSON.parse('{"__proto__":"team-a","constructor":"cc-1","toString":"ts","hasOwnProperty":"h"}');

  it("keeps their values on the record", () => {
    const r = buildRecord(input(1, hostile) as never, pricer);
    for (const name of NAMES) expect(Object.getOwnPropertyDescriptor(r.dimensions, name)?.value).toBe(hostile[name]);
    expect(Object.getPrototypeOf(r.dimensions)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(r.dimensions))).toEqual(hostile);
  });

  it("stores them and groups by them exactly, with records lacking them under null", async () => {
    const records = Array.from({ length: 12 }, (_, i) => buildRecord(input(i, i % 2 === 0 ? hostile : { other: "x" }) as never, pricer));
    const store = new SqliteUsageStore({ path: ":memory:" });
    await store.append(records);
    for (const name of NAMES) {
      const query = { filter: {}, groupBy: [`dimension:${name}` as GroupKey] };
      const rows = await store.aggregate(query);
      const byValue = Object.fromEntries(rows.map((row) => [String(row.key[`dimension:${name}`]), row.requests]));
      expect(byValue).toEqual({ [hostile[name]]: 6, null: 6 });
      const reference = aggregateInMemory(records, query);
      expect(Object.fromEntries(reference.map((row) => [String(row.key[`dimension:${name}`]), row.requests]))).toEqual(byValue);
    }
    const back = await store.get("dim-0");
    for (const name of NAMES) expect(Object.getOwnPropertyDescriptor(back!.dimensions, name)?.value).toBe(hostile[name]);
    await store.close();
  });
});
