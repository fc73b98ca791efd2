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
