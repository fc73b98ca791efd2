/**
 * An append sums its batch's rollup increments in JavaScript (batch-fold.ts) and falls back
 * to SQLite's grouped folds for rows it cannot sum exactly. Either way every rollup and
 * leaderboard table must hold exactly what a rebuild from the raw records computes.
 */
import { describe, expect, it } from "vitest";
import { batchUsers } from "../../src/stores/sqlite/batch-fold.js";
import { ROLLUP_TABLES, SMALL_BATCH } from "../../src/stores/sqlite/rollups.js";
import { COL, recordToValues, type RecordValues } from "../../src/stores/sqlite/rows.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { makeRecord, seededRandom } from "../contract/make-record.js";
import type { UsageRecord } from "../../src/record/types.js";

const TABLES = [...ROLLUP_TABLES.map((r) => r.table), "usage_user_counts"];

function snapshot(store: SqliteUsageStore): Record<string, unknown[]> {
  const db = store.database;
  return Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2, 3`).raw(true).all()]));
}

function records(seed: number, count: number): UsageRecord[] {
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const start = Date.UTC(2030, 0, 1, 20);
  return Array.from({ length: count }, (_, i) => {
    const inputTokens = 1 + Math.floor(rand() * 5000);
    const outputTokens = Math.floor(rand() * 900);
    const priced = rand() < 0.8;
    return makeRecord({
      id: `r-${seed}-${i}`,
      userId: pick(["heavy", "heavy", "heavy", "mid", "light-1", "light-2", "Ünïcode 用户"]),
      // null and "" are different threads to SQLite (null has none); the agent's null and "" are one group.
      threadId: pick([null, "", "t-1", "t-2", "t\u00e9"]),
      agentName: pick([null, "", "support", "research"]),
      provider: pick(["openai", "anthropic"]),
      model: pick(["gpt-4o", "gpt-4o-mini", "claude-sonnet-4"]),
      operationType: pick(["chat", "llm", "embedding"] as const),
      // Eight hours across a UTC midnight, so hourly and daily buckets both split.
      timestamp: new Date(start + Math.floor(rand() * 8 * 3_600_000)).toISOString(),
      inputTokens,
      outputTokens,
      cacheReadTokens: Math.floor(inputTokens / 3),
      reasoningTokens: Math.floor(outputTokens / 4),
      inputCostNanos: priced ? inputTokens * 2500 : 0,
      outputCostNanos: priced ? outputTokens * 10_000 : 0,
      priced,
      error: rand() < 0.1,
      cached: rand() < 0.1,
      estimated: rand() < 0.1,
    });
  });
}

describe("an append's rollup increments", () => {
  it("equal a rebuild from raw records, table by table, with duplicates, users turning heavy and rows only SQL can sum", async () => {
    const store = new SqliteUsageStore({ path: ":memory:", rollupThreshold: 40 });
    const all = records(5, 600);
    // Record batches of uneven sizes, each replaying part of the one before (duplicates).
    for (let i = 0, size = 7; i < 500; i += size, size = (size * 3) % 97 + 5) {
      await store.append([...all.slice(Math.max(0, i - 3), i), ...all.slice(i, i + size)]);
    }
    // A large batch of one record per user: the per-user tables are folded by SQLite, the
    // application-wide ones summed here. A small one is summed here whole.
    await store.append(records(6, SMALL_BATCH + 12).map((r, i) => ({ ...r, id: `solo-${i}`, userId: `solo-${i}` })));
    await store.append(records(7, 12).map((r, i) => ({ ...r, id: `few-${i}`, userId: `few-${i}` })));
    // One agent's calls in a row, across an hour boundary: consecutive rows share a cell
    // until a key part changes.
    const run = Date.UTC(2030, 0, 1, 22, 58);
    await store.append(
      Array.from({ length: 60 }, (_, i) =>
        makeRecord({ id: `run-${i}`, userId: "heavy", threadId: "t-1", agentName: i === 30 ? null : "support", timestamp: new Date(run + i * 5000).toISOString() }),
      ),
    );
    // Rows as the worker sends them, some with values only SQLite's affinity makes numbers
    // of: their batches go through SQLite's own folds.
    const rows: RecordValues[] = all.slice(500).map(recordToValues);
    rows[3][COL.input_tokens] = "17";
    rows[40][COL.total_cost_nanos] = 12.5;
    for (let i = 0; i < rows.length; i += 25) await store.appendRows(rows.slice(i, i + 25));
    await store.append(all.slice(0, 50)); // a replay: nothing changes

    const incremental = snapshot(store);
    expect(incremental.usage_user_counts).toContainEqual(["heavy", expect.any(Number), 1]);
    expect(incremental.usage_user_counts).toContainEqual(["light-1", expect.any(Number), 1]);
    await store.rebuildRollups();
    const rebuilt = snapshot(store);
    for (const t of TABLES) expect(incremental[t], t).toEqual(rebuilt[t]);
    await store.close();
  });

  it("are summed in JavaScript only when the sums are exact", () => {
    const row = () => recordToValues(makeRecord());
    expect(batchUsers([row(), row(), { ...row(), [COL.user_id]: "other" }])).toEqual(new Map([["user-1", 2], ["other", 1]]));
    const odd: Array<[number, unknown]> = [
      [COL.input_tokens, "17"],
      [COL.total_cost_nanos, 12.5],
      [COL.total_cost_nanos, -1],
      [COL.total_cost_nanos, 2 ** 53],
      [COL.provider, 7],
      [COL.model, "a\0b"],
      [COL.thread_id, 3],
      [COL.timestamp, "2030-01-01T\uD800"],
    ];
    for (const [col, value] of odd) {
      const bad = row();
      bad[col] = value;
      expect(batchUsers([row(), bad]), `column ${col} = ${String(value)}`).toBeNull();
    }
    // Each value safe, their sum not.
    const big = () => Object.assign(row(), { [COL.total_cost_nanos]: 2 ** 52 });
    expect(batchUsers([big(), big(), big()])).toBeNull();
  });

  it("COL names the table's columns", async () => {
    const store = new SqliteUsageStore({ path: ":memory:" });
    const names = (store.database.prepare("PRAGMA table_info(usage_records)").all() as Array<{ name: string }>).map((c) => c.name);
    for (const [name, at] of Object.entries(COL)) expect(names[at], name).toBe(name);
    await store.close();
  });
});
