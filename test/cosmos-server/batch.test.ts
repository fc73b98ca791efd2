/**
 * Transactional batch on the extended local server, through the real SDK (`items.batch`),
 * against what Azure Cosmos DB documents: all or nothing, 207 Multi-Status with the failing
 * operation's own status and 424 for every other one, at most 100 operations, one logical
 * partition, Patch inside a batch.
 */
import type { Container, OperationInput } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { useLocalServer } from "./setup.js";

const server = useLocalServer();

async function seed(container: Container, userId = "u1") {
  const { resource: a } = await container.items.create({ id: "a", userId, count: 1, tags: ["x"] });
  const { resource: b } = await container.items.create({ id: "b", userId, count: 10 });
  return { a: a!, b: b! };
}

/** Every document of the container with its etag, to show a failed batch changed nothing. */
async function state(container: Container) {
  const { resources } = await container.items.query("SELECT * FROM c").fetchAll();
  return resources.map((d) => ({ id: d.id, etag: d._etag, body: JSON.stringify({ ...d, _etag: 0, _ts: 0 }) })).sort((x, y) => x.id.localeCompare(y.id));
}

describe("transactional batch", () => {
  it("runs Create, Upsert, Replace (ifMatch), Read, Delete and Patch in order and answers 200", async () => {
    const container = await server.container();
    const { a } = await seed(container);
    const ops: OperationInput[] = [
      { operationType: "Create", resourceBody: { id: "c", userId: "u1", count: 0 } },
      { operationType: "Upsert", resourceBody: { id: "d", userId: "u1", count: 4 } },
      { operationType: "Replace", id: "a", ifMatch: a._etag, resourceBody: { id: "a", userId: "u1", count: 2 } },
      { operationType: "Read", id: "c" },
      { operationType: "Delete", id: "b" },
      { operationType: "Patch", id: "d", resourceBody: { operations: [{ op: "incr", path: "/count", value: 3 }] } },
    ];
    const response = await container.items.batch(ops, "u1");
    expect(response.code).toBe(200);
    expect(response.result!.map((r) => r.statusCode)).toEqual([201, 201, 200, 200, 204, 200]);
    expect(response.result![3].resourceBody).toMatchObject({ id: "c", count: 0 });
    expect(response.result![5].resourceBody).toMatchObject({ id: "d", count: 7 });
    expect(response.result![5].eTag).toBe(response.result![5].resourceBody!._etag);
    expect((await container.item("a", "u1").read()).resource.count).toBe(2);
    expect((await container.item("b", "u1").read()).statusCode).toBe(404);
    expect((await container.item("d", "u1").read()).resource.count).toBe(7);
  });

  it("rolls back every operation before a failure: 207, the failing one 409, every other 424", async () => {
    const container = await server.container();
    await seed(container);
    const before = await state(container);
    const response = await container.items.batch(
      [
        { operationType: "Create", resourceBody: { id: "new", userId: "u1" } },
        { operationType: "Patch", id: "a", resourceBody: [{ op: "incr", path: "/count", value: 5 }] },
        { operationType: "Delete", id: "b" },
        { operationType: "Create", resourceBody: { id: "a", userId: "u1" } },
        { operationType: "Upsert", resourceBody: { id: "after", userId: "u1" } },
      ],
      "u1",
    );
    expect(response.code).toBe(207);
    expect(response.result!.map((r) => r.statusCode)).toEqual([424, 424, 424, 409, 424]);
    expect(await state(container)).toEqual(before);
    expect((await container.item("new", "u1").read()).statusCode).toBe(404);
    // The rolled-back writes left no stale index entry: the same writes succeed afterwards.
    const again = await container.items.batch(
      [
        { operationType: "Create", resourceBody: { id: "new", userId: "u1" } },
        { operationType: "Delete", id: "b" },
        { operationType: "Patch", id: "a", resourceBody: [{ op: "incr", path: "/count", value: 5 }] },
      ],
      "u1",
    );
    expect(again.result!.map((r) => r.statusCode)).toEqual([201, 204, 200]);
    const { resources } = await container.items.query("SELECT c.id, c.count FROM c").fetchAll();
    expect(resources.sort((x, y) => x.id.localeCompare(y.id))).toEqual([{ id: "a", count: 6 }, { id: "new" }]);
  });

  it.each([
    ["a stale ifMatch on Replace", 412, (etag: string) => ({ operationType: "Replace", id: "a", ifMatch: etag.replace(/.$/, "0") + "x", resourceBody: { id: "a", userId: "u1" } })],
    ["a Read of a missing document", 404, () => ({ operationType: "Read", id: "missing" })],
    ["a Replace of a missing document", 404, () => ({ operationType: "Replace", id: "missing", resourceBody: { id: "missing", userId: "u1" } })],
    ["a Delete of a missing document", 404, () => ({ operationType: "Delete", id: "missing" })],
    ["a Patch removing a missing property", 400, () => ({ operationType: "Patch", id: "a", resourceBody: [{ op: "remove", path: "/nope" }] })],
    ["a Patch whose filter predicate is false", 412, () => ({ operationType: "Patch", id: "a", resourceBody: { condition: "FROM c WHERE c.count > 100", operations: [{ op: "set", path: "/x", value: 1 }] } })],
    ["a Create in another partition", 400, () => ({ operationType: "Create", resourceBody: { id: "z", userId: "u2" } })],
  ])("answers 207 with %s as the failing operation (%i) and changes nothing", async (_name, status, failing) => {
    const container = await server.container();
    const { a } = await seed(container);
    const before = await state(container);
    const response = await container.items.batch(
      [
        { operationType: "Patch", id: "b", resourceBody: [{ op: "set", path: "/seen", value: true }] },
        failing(a._etag) as OperationInput,
        { operationType: "Create", resourceBody: { id: "later", userId: "u1" } },
      ],
      "u1",
    );
    expect(response.code).toBe(207);
    expect(response.result!.map((r) => r.statusCode)).toEqual([424, status, 424]);
    expect(await state(container)).toEqual(before);
  });

  it("applies a Patch with a camelCase filter predicate that holds, and sees earlier operations of the batch", async () => {
    const container = await server.container();
    await seed(container);
    const response = await container.items.batch(
      [
        { operationType: "Upsert", resourceBody: { id: "rollup", userId: "u1", totalTokens: 5, lastRecordId: "r1" } },
        {
          operationType: "Patch",
          id: "rollup",
          resourceBody: {
            condition: "FROM c WHERE c.lastRecordId = 'r1' AND c.totalTokens >= 5",
            operations: [
              { op: "incr", path: "/totalTokens", value: 7 },
              { op: "set", path: "/lastRecordId", value: "r2" },
            ],
          },
        },
      ],
      "u1",
    );
    expect(response.code).toBe(200);
    expect((await container.item("rollup", "u1").read()).resource).toMatchObject({ totalTokens: 12, lastRecordId: "r2" });
  });

  it("refuses more than 100 operations as a whole (400) and takes exactly 100", async () => {
    const container = await server.container();
    const creates = (n: number) => Array.from({ length: n }, (_, i) => ({ operationType: "Create", resourceBody: { id: `d${i}`, userId: "u1" } }));
    const url = `${server.local.endpoint}/dbs/${server.local.databaseId}/colls/${container.id}/docs`;
    const post = (body: unknown) =>
      fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-ms-cosmos-is-batch-request": "true",
          "x-ms-cosmos-batch-atomic": "true",
          "x-ms-documentdb-partitionkey": '["u1"]',
        },
        body: JSON.stringify(body),
      });
    const tooMany = await post(creates(101));
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { message: string }).message).toMatch(/at most 100 operations/);
    expect((await container.items.readAll().fetchAll()).resources).toHaveLength(0);
    const hundred = await container.items.batch(creates(100) as OperationInput[], "u1");
    expect(hundred.code).toBe(200);
    expect((await container.items.readAll().fetchAll()).resources).toHaveLength(100);
  });

  it("takes Patch in a bulk request too, each operation on its own", async () => {
    const container = await server.container();
    await seed(container);
    const results = await container.items.bulk([
      { operationType: "Patch", id: "a", partitionKey: "u1", resourceBody: { operations: [{ op: "incr", path: "/count", value: 2 }] } },
      { operationType: "Patch", id: "missing", partitionKey: "u1", resourceBody: { operations: [{ op: "incr", path: "/count", value: 2 }] } },
      { operationType: "Patch", id: "b", partitionKey: "u1", resourceBody: { operations: [{ op: "incr", path: "/count", value: 2 }] } },
    ]);
    expect(results.map((r) => r.statusCode)).toEqual([200, 404, 200]);
    expect((await container.item("a", "u1").read()).resource.count).toBe(3);
    expect((await container.item("b", "u1").read()).resource.count).toBe(12);
  });
});

describe("fault injection on batches", () => {
  it.each([429, 503])("answers the next batch with a whole-request %i (nothing applied), then serves again", async (status) => {
    const container = await server.noRetryClient.database(server.local.databaseId).container((await server.container()).id);
    const before = { ...server.local.ops.counts };
    server.local.faults.failNext("batch", 1, { status, retryAfterMs: 5 });
    const ops: OperationInput[] = [{ operationType: "Create", resourceBody: { id: "x", userId: "u1" } }];
    const error = await container.items.batch(ops, "u1").then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(/^Batch request error/);
    expect((await container.item("x", "u1").read()).statusCode).toBe(404);
    expect(server.local.faults.remaining).toBe(0);
    const ok = await container.items.batch(ops, "u1");
    expect(ok.code).toBe(200);
    expect(server.local.ops.counts.batch - before.batch).toBeGreaterThanOrEqual(2);
  });

  it("with afterApplying the batch is applied but its answer is an error: a replay meets 409", async () => {
    const container = await server.noRetryClient.database(server.local.databaseId).container((await server.container()).id);
    server.local.faults.failNext("batch", 1, { status: 503, afterApplying: true });
    const ops: OperationInput[] = [{ operationType: "Create", resourceBody: { id: "x", userId: "u1" } }];
    await expect(container.items.batch(ops, "u1")).rejects.toThrow(/Batch request error/);
    expect((await container.item("x", "u1").read()).statusCode).toBe(200);
    const replay = await container.items.batch(ops, "u1");
    expect(replay.code).toBe(207);
    expect(replay.result![0].statusCode).toBe(409);
  });

  it("a throttle the SDK retries by itself carries x-ms-retry-after-ms and is counted", async () => {
    const container = await server.container();
    const faultedBefore = server.local.ops.faulted;
    server.local.faults.failNext("batch", 2, { status: 429, retryAfterMs: 1 });
    const response = await container.items.batch([{ operationType: "Create", resourceBody: { id: "y", userId: "u1" } }], "u1");
    expect(response.code).toBe(200);
    expect(server.local.ops.faulted - faultedBefore).toBe(2);
  });
});
