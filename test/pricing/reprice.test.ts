/**
 * Re-pricing stored history: records of a model the catalog does not know are stored
 * unpriced; after an override is added, repriceUsage changes the stored costs and every
 * statistic by exactly the expected difference, and a second run changes nothing.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTokenMonitor } from "../../src/index.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";

const quiet = { warn: () => undefined, error: () => undefined };

describe("repriceUsage", () => {
  it("re-prices after an override, exactly and idempotently, with rollups following", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "tt-reprice-")), "usage.db");
    // Threshold 1: the user has per-user rollups, so both rollup levels must follow the new prices.
    const before = createTokenMonitor({ store: new SqliteUsageStore({ path, rollupThreshold: 1 }), logger: quiet, budget: false });
    const start = Date.UTC(2026, 5, 1, 10);
    for (let i = 0; i < 40; i++) {
      await before.trackUsage({
        id: `rp-${i}`,
        userId: "acct",
        provider: "acme",
        model: "acme-large",
        inputTokens: 1000 + i,
        outputTokens: 100 + i,
        timestamp: new Date(start + i * 3_600_000),
      });
      await before.trackUsage({ id: `gp-${i}`, userId: "acct", provider: "openai", model: "gpt-4o-mini", inputTokens: 500, outputTokens: 50, timestamp: new Date(start + i * 3_600_000) });
    }
    await before.flush();
    const range = { start: new Date(start), end: new Date(start + 48 * 3_600_000) };
    const old = await before.getUserUsage("acct", range);
    expect(old.unpricedRequests).toBe(40);
    const oldGlobal = await before.getUsageByModel(range);
    await before.close();

    // $2 per 1M input tokens, $8 per 1M output: 2,000 and 8,000 nano-dollars per token.
    const after = createTokenMonitor({
      store: new SqliteUsageStore({ path, rollupThreshold: 1 }),
      pricing: { models: { "acme/acme-large": { input: 2, output: 8 } } },
      logger: quiet,
      budget: false,
    });
    const progress: number[] = [];
    const result = await after.repriceUsage({ ...range, batchSize: 16, onProgress: (p) => progress.push(p.processed) });
    expect(result).toEqual({ processed: 80, changed: 40 });
    expect(progress).toEqual([16, 32, 48, 64, 80]);
    let expectedDelta = 0;
    for (let i = 0; i < 40; i++) expectedDelta += (1000 + i) * 2000 + (100 + i) * 8000;
    const now = await after.getUserUsage("acct", range);
    expect(now.unpricedRequests).toBe(0);
    expect(now.totalCostNanos - old.totalCostNanos).toBe(expectedDelta);
    const byModel = await after.getUsageByModel(range);
    expect(byModel.find((m) => m.key === "acme-large")?.totalCostNanos).toBe(expectedDelta);
    expect(byModel.find((m) => m.key === "gpt-4o-mini")?.totalCostNanos).toBe(oldGlobal.find((m) => m.key === "gpt-4o-mini")?.totalCostNanos);
    const record = (await after.getAllUsage({ ...range, model: "acme-large", limit: 1 })).records[0];
    expect(record).toMatchObject({ priced: true, priceSource: "override" });

    // Idempotent: nothing left to change, and rollups still equal a rebuild from raw records.
    expect(await after.repriceUsage(range)).toEqual({ processed: 80, changed: 0 });
    await after.rebuildRollups();
    expect((await after.getUserUsage("acct", range)).totalCostNanos).toBe(now.totalCostNanos);
    await after.close();
  });
});
