/**
 * The worker-thread store sends rows (values in column order) rather than record objects:
 * the same checks still refuse a bad record before anything is written, a malformed row is
 * refused by the worker side, and what is stored reads back as the records sent.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { StoreError, ValidationError } from "../../src/errors.js";
import { recordToValues } from "../../src/stores/sqlite/rows.js";
import { SqliteUsageStore, SqliteWorkerStore } from "../../src/stores/sqlite/index.js";
import { makeRecord } from "../contract/make-record.js";

const dir = mkdtempSync(join(tmpdir(), "tt-rows-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("SqliteWorkerStore.append sends rows", () => {
  it("stores the records, refuses a record without an id or user by index, and counts replays once", async () => {
    const store = new SqliteWorkerStore({ path: join(dir, "worker.db") });
    try {
      const good = [makeRecord({ tags: ["a", "b"], dimensions: { tenant: "acme" }, requestMetadata: { kind: "x", n: 1 } }), makeRecord()];
      const bad = [makeRecord(), { ...makeRecord(), id: "" }];
      await expect(store.append(bad)).rejects.toSatisfy((e) => e instanceof ValidationError && e.field === "records[1].id");
      const noUser = [{ ...makeRecord(), userId: "" }];
      await expect(store.append(noUser)).rejects.toSatisfy((e) => e instanceof ValidationError && e.field === "records[0].userId");
      // Nothing of the refused batch was written.
      expect(await store.get(bad[0].id)).toBeNull();
      expect(await store.append(good)).toEqual({ inserted: 2, duplicates: 0 });
      expect(await store.append(good)).toEqual({ inserted: 0, duplicates: 2 });
      for (const r of good) expect(await store.get(r.id)).toStrictEqual(r);
    } finally {
      await store.close();
    }
  });

  it("a record that cannot be turned into a row is a StoreError, as the insert's own failures are", async () => {
    const store = new SqliteWorkerStore({ path: join(dir, "worker-bad.db") });
    try {
      const broken = { ...makeRecord(), timestamp: undefined as unknown as string };
      await expect(store.append([broken])).rejects.toBeInstanceOf(StoreError);
    } finally {
      await store.close();
    }
  });
});

describe("SqliteUsageStore.appendRows", () => {
  it("inserts rows in column order and refuses a row of the wrong shape", async () => {
    const store = new SqliteUsageStore({ path: ":memory:" });
    try {
      const records = [makeRecord(), makeRecord()];
      await expect(store.appendRows([recordToValues(records[0]).slice(1)])).rejects.toSatisfy(
        (e) => e instanceof ValidationError && e.field === "rows[0]",
      );
      await expect(store.appendRows("nope" as never)).rejects.toBeInstanceOf(ValidationError);
      expect(await store.appendRows(records.map(recordToValues))).toEqual({ inserted: 2, duplicates: 0 });
      for (const r of records) expect(await store.get(r.id)).toStrictEqual(r);
    } finally {
      await store.close();
    }
  });
});

describe("rows packed by column for the worker", () => {
  it("unpack to the very rows packed, shared columns and varying ones alike", async () => {
    const { packRows, unpackRows } = await import("../../src/stores/sqlite/packed-rows.js");
    const rows = [makeRecord({ latencyMs: 0 }), makeRecord({ latencyMs: -0 }), makeRecord({ latencyMs: Number.NaN })].map(recordToValues);
    const packed = packRows(rows);
    // The user, model and flags are shared; ids and the latencies (0, -0, NaN) are not.
    expect(packed.same.filter(Boolean).length).toBeGreaterThan(20);
    expect(packed.same[0]).toBe(false);
    expect(packed.same[28]).toBe(false);
    const back = unpackRows(structuredClone(packed));
    expect(back).toHaveLength(3);
    back.forEach((row, i) => row.forEach((v, c) => expect(Object.is(v, rows[i][c]), `row ${i} column ${c}`).toBe(true)));
    expect(unpackRows(packRows([]))).toEqual([]);
  });

  it("refuse a packed batch of another shape by name, through the store", async () => {
    const store = new SqliteUsageStore({ path: ":memory:" });
    try {
      const { packRows } = await import("../../src/stores/sqlite/packed-rows.js");
      const packed = packRows([makeRecord(), makeRecord()].map(recordToValues));
      await expect(store.appendPacked({ ...packed, columns: packed.columns.slice(1) })).rejects.toSatisfy((e) => e instanceof ValidationError && e.field === "rows");
      const short = { ...packed, columns: packed.columns.map((c, i) => (packed.same[i] ? c : (c as unknown[]).slice(1))) };
      await expect(store.appendPacked(short)).rejects.toSatisfy((e) => e instanceof ValidationError && e.field.startsWith("rows.columns["));
      expect(await store.appendPacked(packed)).toEqual({ inserted: 2, duplicates: 0 });
    } finally {
      await store.close();
    }
  });
});
