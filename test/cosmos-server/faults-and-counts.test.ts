/**
 * The extended server's test hooks and isolation: the request counter, faults on any kind
 * of request, and concurrent batches from several clients (replicas) on one document.
 */
import type { OperationInput } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { useLocalServer } from "./setup.js";

const server = useLocalServer();

describe("operation counter", () => {
  it("counts requests by kind and the operations inside batches", async () => {
    const container = await server.container();
    await container.items.create({ id: "a", userId: "u1", n: 0 });
    server.local.ops.reset();
    await container.item("a", "u1").read();
    await container.items.upsert({ id: "b", userId: "u1" });
    await container.item("a", "u1").patch([{ op: "incr", path: "/n", value: 1 }]);
    await container.items.query("SELECT * FROM c").fetchAll();
    await container.items.batch(
      [
        { operationType: "Create", resourceBody: { id: "c", userId: "u1" } },
        { operationType: "Read", id: "a" },
        { operationType: "Delete", id: "b" },
      ],
      "u1",
    );
    const { counts } = server.local.ops;
    expect(counts.read).toBe(1);
    expect(counts.upsert).toBe(1);
    expect(counts.patch).toBe(1);
    expect(counts.batch).toBe(1);
    expect(counts.query).toBeGreaterThanOrEqual(1);
    expect(server.local.ops.batchOperations).toBe(3);
    expect(server.local.ops.total).toBeGreaterThanOrEqual(5);
    server.local.ops.reset();
    expect(server.local.ops.total).toBe(0);
  });
});

describe("faults on other requests", () => {
  it("a patch answered 503 after applying was applied once; one answered 503 before was not", async () => {
    const base = await server.container();
    const container = server.noRetryClient.database(server.local.databaseId).container(base.id);
    await container.items.create({ id: "a", userId: "u1", n: 0 });
    const incr = () => container.item("a", "u1").patch([{ op: "incr", path: "/n", value: 1 }]);
    server.local.faults.failNext("patch", 1, { status: 503, afterApplying: true });
    await expect(incr()).rejects.toMatchObject({ code: 503 });
    server.local.faults.failNext("patch", 1, { status: 503 });
    await expect(incr()).rejects.toMatchObject({ code: 503 });
    expect((await container.item("a", "u1").read()).resource.n).toBe(1);
  });

  it("'any' hits the next request of whatever kind; clear() drops what is pending", async () => {
    const base = await server.container();
    const container = server.noRetryClient.database(server.local.databaseId).container(base.id);
    await container.items.create({ id: "a", userId: "u1" });
    server.local.faults.failNext("any", 1, { status: 429, retryAfterMs: 1 });
    await expect(container.item("a", "u1").read()).rejects.toMatchObject({ code: 429 });
    server.local.faults.failNext("delete", 3, { status: 503 });
    expect(server.local.faults.remaining).toBe(3);
    server.local.faults.clear();
    expect((await container.item("a", "u1").delete()).statusCode).toBe(204);
  });
});

describe("connection drops and the server's clock", () => {
  it("a replace with dropConnection after applying was applied; the client sees a network error, not an answer", async () => {
    const base = await server.container();
    const container = server.noRetryClient.database(server.local.databaseId).container(base.id);
    await container.items.create({ id: "a", userId: "u1", n: 0 });
    server.local.faults.failNext("replace", 1, { status: 503, afterApplying: true, dropConnection: true });
    const err = await container.item("a", "u1").replace({ id: "a", userId: "u1", n: 1 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).not.toBeNull();
    expect((err as { code?: unknown }).code).not.toBe(200);
    expect((await container.item("a", "u1").read()).resource.n).toBe(1);
  });

  it("answers carry the server's clock in Date, which clock.set moves (whole seconds)", async () => {
    const container = await server.container();
    await container.items.create({ id: "a", userId: "u1" });
    const at = Date.parse("2031-05-14T12:00:00Z");
    server.local.clock.set(at);
    try {
      const date = Date.parse(String((await container.item("a", "u1").read()).headers["date"]));
      expect(date).toBeGreaterThanOrEqual(at - 1000);
      expect(date).toBeLessThan(at + 5_000);
      const missing = await container.item("nope", "u1").read().then((r) => r.headers, (e: { headers?: Record<string, unknown> }) => e.headers);
      expect(Math.abs(Date.parse(String(missing?.["date"])) - at)).toBeLessThan(5_000);
    } finally {
      server.local.clock.set(Date.now());
    }
  });
});

describe("isolation between concurrent batches", () => {
  it("concurrent increments from several clients sum exactly; concurrent creates of one id: one wins, the rest 409 and roll back", async () => {
    const container = await server.container();
    await container.items.create({ id: "rollup", userId: "u1", n: 0 });
    const replicas = [server.client, server.local.client(), server.local.client()].map((c) => c.database(server.local.databaseId).container(container.id));
    const increments = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        replicas[i % 3].items.batch(
          [
            { operationType: "Create", resourceBody: { id: `r${i}`, userId: "u1" } },
            { operationType: "Patch", id: "rollup", resourceBody: [{ op: "incr", path: "/n", value: 1 }] },
          ],
          "u1",
        ),
      ),
    );
    expect(increments.every((r) => r.code === 200)).toBe(true);
    expect((await container.item("rollup", "u1").read()).resource.n).toBe(30);
    const racing = await Promise.all(
      replicas.map((c, i) =>
        c.items.batch(
          [
            { operationType: "Patch", id: "rollup", resourceBody: [{ op: "incr", path: "/n", value: 100 }] },
            { operationType: "Create", resourceBody: { id: "same", userId: "u1", by: i } },
          ] as OperationInput[],
          "u1",
        ),
      ),
    );
    expect(racing.map((r) => r.code).sort()).toEqual([200, 207, 207]);
    expect((await container.item("rollup", "u1").read()).resource.n).toBe(130);
  });
});
