/**
 * Four processes write one SQLite file at the same time (2,000 records each): every
 * record is stored once, totals are exact, and the hourly rollups every process updated
 * inside its own transactions equal the aggregates of the raw records.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createPricer } from "../../src/pricing/index.js";
import { buildRecord } from "../../src/record/build-record.js";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { multiWriterRecord } from "./fixtures/tokens.js";
import { quietLogger, startFixture } from "./support/children.js";
import { readUsageFile, rollupsVersusRaw } from "./support/sqlite-checks.js";

const WORKERS = 4;
const PER_WORKER = 2000;

describe("several processes writing one SQLite file", () => {
  it("exact totals, no record twice, rollups equal to the raw aggregates", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-multi-"));
    const path = join(dir, "usage.db");
    const seed = new SqliteUsageStore({ path });
    await seed.append([]); // opens the file (first use) and creates the schema
    await seed.close();

    const t0 = performance.now();
    const children = Array.from({ length: WORKERS }, (_, w) => startFixture("multi-writer-child.ts", [path, String(w), String(PER_WORKER)]));
    const results = await Promise.all(children.map((c) => c.exited));
    const elapsed = performance.now() - t0;
    for (const [w, c] of children.entries()) {
      expect(results[w], c.stderr()).toEqual({ code: 0, signal: null });
      expect(c.lines).toContain(`done ${PER_WORKER} 0`);
    }

    // The expected content, computed here from the same inputs (and the same catalog prices).
    const pricer = createPricer();
    const expected = new Map<string, { n: number; i: number; o: number; c: number }>();
    let inputTokens = 0;
    let costNanos = 0;
    for (let w = 0; w < WORKERS; w++) {
      for (let i = 0; i < PER_WORKER; i++) {
        const r = buildRecord(multiWriterRecord(w, i), pricer);
        const key = `${r.userId}|${r.timestamp.slice(0, 13)}|${r.model}`;
        const e = expected.get(key) ?? { n: 0, i: 0, o: 0, c: 0 };
        e.n++;
        e.i += r.inputTokens;
        e.o += r.outputTokens;
        e.c += r.totalCostNanos;
        expected.set(key, e);
        inputTokens += r.inputTokens;
        costNanos += r.totalCostNanos;
      }
    }
    const expectedMap = new Map([...expected].map(([k, e]) => [k, `${e.n}/${e.i}/${e.o}/${e.c}`]));

    const stored = readUsageFile(path);
    const { raw, rollup, rawDaily, daily, rawGlobal, global } = rollupsVersusRaw(path);
    console.log(`[faults] ${WORKERS} processes x ${PER_WORKER} records into one SQLite file in ${elapsed.toFixed(0)} ms; ${rollup.size} rollup keys`);
    expect(stored.ids.length).toBe(WORKERS * PER_WORKER);
    expect(stored.duplicateIds).toEqual([]);
    expect(stored.inputTokens).toBe(inputTokens);
    expect(stored.costNanos).toBe(costNanos);
    expect(costNanos).toBeGreaterThan(0);
    expect(raw).toEqual(expectedMap);
    expect(rollup).toEqual(expectedMap);
    if (daily) expect(daily).toEqual(rawDaily);
    expect(global).toEqual(rawGlobal);
    expect(global?.size).toBeGreaterThan(0);

    // The query layer agrees: hour-aligned ranges are answered from rollups, others from raw records.
    const monitor = createTokenMonitor({ store: new SqliteUsageStore({ path }), logger: quietLogger });
    const viaRollups = await monitor.store.aggregate({ filter: { start: "2031-05-01T00:00:00.000Z", end: "2031-05-02T00:00:00.000Z" }, groupBy: ["user", "model"] });
    const viaRaw = await monitor.store.aggregate({ filter: { start: "2031-05-01T00:00:00.001Z", end: "2031-05-02T00:00:00.000Z" }, groupBy: ["user", "model"] });
    await monitor.close();
    const norm = (rows: typeof viaRaw) => [...rows].sort((a, b) => JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)));
    expect(norm(viaRollups)).toEqual(norm(viaRaw));
    expect(viaRaw.reduce((s, r) => s + r.requests, 0)).toBe(WORKERS * PER_WORKER);
  });
});
