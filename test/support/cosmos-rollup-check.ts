/** Checks the Cosmos rollup documents of a container against its raw records, read directly. */
import type { Container } from "@azure/cosmos";
import { expect } from "vitest";
import type { UsageRecord } from "../../src/record/types.js";
import { fromUsageDocument } from "../../src/stores/cosmos/documents.js";
import { asRollupDocument } from "../../src/stores/cosmos/rollup-docs.js";
import { aggregateRollups } from "../../src/stores/cosmos/rollups.js";
import { aggregateInMemory, type AggregateQuery, type GroupKey } from "../../src/stores/types.js";

export function sortRows<T extends { key: Record<string, string | null> }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1));
}

/**
 * Reads the container directly and checks every hour and day rollup document
 * against the raw records: same groups, same counters, same first/last seen.
 */
export async function expectRollupsExact(container: Container): Promise<UsageRecord[]> {
  const { resources } = await container.items.query("SELECT * FROM c").fetchAll();
  const raw = resources.filter((d) => d.type === "usage").map(fromUsageDocument);
  for (const [type, level] of [
    ["rollup-hour", "hour"],
    ["rollup-day", "day"],
  ] as const) {
    const groupBy: GroupKey[] = ["user", level, "provider", "model", "agent", "operation"];
    const docs = resources.filter((d) => d.type === type).map(asRollupDocument);
    const q: AggregateQuery = { filter: {}, groupBy };
    expect(sortRows(aggregateRollups(docs, q)), `${level} rollups`).toEqual(sortRows(aggregateInMemory(raw, q)));
  }
  return raw;
}

