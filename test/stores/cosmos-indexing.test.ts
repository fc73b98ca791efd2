/**
 * The indexing policy of a container the Cosmos store creates: composite indexes for every
 * multi-property ORDER BY it sends (the service refuses such a query without one), and the
 * leaderboard read on a container created without them (an earlier version's): the
 * service's 400 is recognised and the single-property form answers, with a warning.
 */
import { describe, expect, it } from "vitest";
import { COMPOSITE_INDEXES } from "../../src/stores/cosmos/container-setup.js";
import { topQuery } from "../../src/stores/cosmos/global/leaders.js";
import { expectedLeaders, leaderDataset } from "../contract/leaderboards.js";
import { useGlobalStores } from "../support/cosmos-global-stores.js";

const fleetStores = useGlobalStores();
const warnings: string[] = [];
function storeOn(containerId: string) {
  const logger = { warn: (msg: string) => void warnings.push(msg), error: () => undefined, info: () => undefined, debug: () => undefined };
  return fleetStores.storeOn(containerId, { logger: logger as never });
}

/** The ORDER BY of a query as composite-index paths. */
function orderPaths(query: string): Array<{ path: string; order: string }> {
  const clause = query.split(" ORDER BY ")[1];
  return clause.split(",").map((part) => {
    const [field, dir] = part.trim().split(/\s+/);
    return { path: `/${field.replace(/^c\./, "")}`, order: dir === "DESC" ? "descending" : "ascending" };
  });
}

describe("the indexing policy of a created container", () => {
  it("holds a composite index matching each leaderboard ORDER BY exactly", async () => {
    const id = fleetStores.local.uniqueContainerId("ix-created");
    const store = storeOn(id);
    await store.append(leaderDataset(3, Date.UTC(2036, 0, 1), 2, 20, "ix"));
    const { resource } = await fleetStores.local.client().database(fleetStores.local.databaseId).container(id).read();
    const stored = resource?.indexingPolicy?.compositeIndexes ?? [];
    for (const field of ["day", "win"] as const) {
      const wanted = orderPaths(topQuery(1, "t", field, "v", 5, true).query);
      // The service serves an ORDER BY from a composite index with the same paths in the same order (or all reversed).
      expect(stored).toContainEqual(wanted);
      expect(COMPOSITE_INDEXES).toContainEqual(wanted);
    }
    // The single-property form needs none.
    expect(orderPaths(topQuery(1, "t", "day", "v", 5, false).query)).toHaveLength(1);
  });

  it("a container without them answers leaderboards with the single-property ORDER BY, and says how to fix it", async () => {
    const id = fleetStores.local.uniqueContainerId("ix-old");
    const store = storeOn(id);
    const base = Date.UTC(2036, 1, 1);
    const data = leaderDataset(5, base, 1, 60, "ixo");
    await store.append(data);
    const span = { start: "2036-02-01", end: "2036-02-02" };
    // What the service answers to a multi-property ORDER BY without a matching composite index
    // (two requests: the SDK also asks for the query's plan, and ignores that one's failure).
    fleetStores.local.faults.failNext("query", 2, { status: 400, message: "The order by query does not have a corresponding composite index that it can be served from." });
    const rows = await store.leaders!("user", [span], 0, 3);
    const expected = expectedLeaders(data, "user", `${span.start}T00:00:00.000Z`, `${span.end}T00:00:00.000Z`, 3);
    expect(rows.map((r) => r.costNanos)).toEqual(expected.map((r) => r.cost));
    expect(warnings.filter((w) => w.includes("composite indexes"))).toHaveLength(1);
    expect(fleetStores.local.faults.remaining).toBe(0);
    // From then on the store sends the form the container can serve: one query (and its plan), no second warning.
    const before = fleetStores.local.ops.counts.query;
    expect((await store.leaders!("user", [span], 0, 3)).map((r) => r.costNanos)).toEqual(expected.map((r) => r.cost));
    expect(fleetStores.local.ops.counts.query - before).toBeLessThanOrEqual(2);
    expect(warnings.filter((w) => w.includes("composite indexes"))).toHaveLength(1);
  });
});
