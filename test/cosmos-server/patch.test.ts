/**
 * Patch (`item.patch`) on the extended local server, through the real SDK, against
 * Azure Cosmos DB's "Partial document update": what add, set, replace, remove and incr do
 * on an existing and on a missing path, at most 10 operations, all operations or none,
 * filter predicates on camelCase fields (412 when false), a new _etag and _ts.
 */
import type { Container, PatchRequestBody } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { useLocalServer } from "./setup.js";

const server = useLocalServer();

const BASE = { id: "doc", userId: "u1", name: "n", count: 5, nested: { a: 1 }, tags: ["t0", "t1"] };

async function fresh(): Promise<Container> {
  const container = await server.container();
  await container.items.create(BASE);
  return container;
}

async function patch(container: Container, body: PatchRequestBody) {
  return container.item("doc", "u1").patch(body).then(
    (r) => ({ status: r.statusCode, doc: r.resource as Record<string, unknown> }),
    (e: { code: number; message: string }) => ({ status: e.code, message: e.message, doc: undefined }),
  );
}

async function stored(container: Container) {
  const { resource } = await container.item("doc", "u1").read();
  const { _rid, _self, _etag, _ts, _attachments, ...rest } = resource;
  return rest;
}

describe("patch operations", () => {
  // [operation, expected document after it] for successful ones.
  it.each([
    ["add creates a missing property", { op: "add", path: "/color", value: "red" }, { ...BASE, color: "red" }],
    ["add replaces an existing property", { op: "add", path: "/name", value: "m" }, { ...BASE, name: "m" }],
    ["add inserts into an array at an index", { op: "add", path: "/tags/1", value: "new" }, { ...BASE, tags: ["t0", "new", "t1"] }],
    ["add at index = length appends", { op: "add", path: "/tags/2", value: "new" }, { ...BASE, tags: ["t0", "t1", "new"] }],
    ["add with - appends", { op: "add", path: "/tags/-", value: "new" }, { ...BASE, tags: ["t0", "t1", "new"] }],
    ["set creates a missing property", { op: "set", path: "/nested/b", value: 2 }, { ...BASE, nested: { a: 1, b: 2 } }],
    ["set updates an array element in place", { op: "set", path: "/tags/0", value: "x" }, { ...BASE, tags: ["x", "t1"] }],
    ["replace changes an existing property", { op: "replace", path: "/count", value: 9 }, { ...BASE, count: 9 }],
    ["remove deletes a property", { op: "remove", path: "/name" }, (({ name, ...r }) => r)(BASE)],
    ["remove shifts array elements back", { op: "remove", path: "/tags/0" }, { ...BASE, tags: ["t1"] }],
    ["incr adds to a number", { op: "incr", path: "/count", value: 3 }, { ...BASE, count: 8 }],
    ["incr takes negative values", { op: "incr", path: "/nested/a", value: -4 }, { ...BASE, nested: { a: -3 } }],
    ["incr creates a missing property with the value", { op: "incr", path: "/fresh", value: 2.5 }, { ...BASE, fresh: 2.5 }],
  ])("%s", async (_name, op, expected) => {
    const container = await fresh();
    const result = await patch(container, [op as never]);
    expect(result.status).toBe(200);
    expect(await stored(container)).toEqual(expected);
  });

  it.each([
    ["replace of a missing property", { op: "replace", path: "/missing", value: 1 }],
    ["replace of an array index past the end", { op: "replace", path: "/tags/2", value: 1 }],
    ["remove of a missing property", { op: "remove", path: "/missing" }],
    ["remove of an index equal to the length", { op: "remove", path: "/tags/2" }],
    ["add at an index past the length", { op: "add", path: "/tags/3", value: 1 }],
    ["set of an array index past the end", { op: "set", path: "/tags/5", value: 1 }],
    ["add under a missing parent (no recursive creation)", { op: "add", path: "/missing/child", value: 1 }],
    ["set under a missing parent", { op: "set", path: "/missing/child", value: 1 }],
    ["incr under a missing parent", { op: "incr", path: "/missing/child", value: 1 }],
    ["incr of a string", { op: "incr", path: "/name", value: 1 }],
    ["a system property", { op: "set", path: "/_etag", value: "x" }],
    ["the id", { op: "set", path: "/id", value: "other" }],
    ["the partition key", { op: "set", path: "/userId", value: "u2" }],
  ])("400 and nothing changed for %s", async (_name, op) => {
    const container = await fresh();
    const before = (await container.item("doc", "u1").read()).resource;
    const result = await patch(container, [op as never]);
    expect(result.status).toBe(400);
    expect((await container.item("doc", "u1").read()).resource).toEqual(before);
  });

  it("applies all operations or none: a failing second operation leaves the first unapplied", async () => {
    const container = await fresh();
    const result = await patch(container, [
      { op: "incr", path: "/count", value: 1 },
      { op: "remove", path: "/missing" },
    ]);
    expect(result.status).toBe(400);
    expect((await stored(container)).count).toBe(5);
  });

  it("takes 10 operations and refuses 11", async () => {
    const container = await fresh();
    const ops = (n: number) => Array.from({ length: n }, () => ({ op: "incr" as const, path: "/count", value: 1 }));
    expect((await patch(container, ops(11))).status).toBe(400);
    expect((await patch(container, ops(10))).status).toBe(200);
    expect((await stored(container)).count).toBe(15);
  });

  it("gives the document a new _etag and _ts; a stale ifMatch is 412", async () => {
    const container = await fresh();
    const { resource: before } = await container.item("doc", "u1").read();
    await new Promise((r) => setTimeout(r, 1100)); // _ts has a resolution of one second
    const { resource: after, etag } = await container.item("doc", "u1").patch([{ op: "set", path: "/name", value: "z" }]);
    expect(after!._etag).not.toBe(before._etag);
    expect(etag).toBe(after!._etag);
    expect(after!._ts).toBeGreaterThan(before._ts);
    const stale = await container
      .item("doc", "u1")
      .patch([{ op: "set", path: "/name", value: "w" }], { accessCondition: { type: "IfMatch", condition: before._etag } })
      .then(() => 200, (e: { code: number }) => e.code);
    expect(stale).toBe(412);
    expect((await stored(container)).name).toBe("z");
  });

  it("404 for a missing document", async () => {
    const container = await fresh();
    const code = await container
      .item("nope", "u1")
      .patch([{ op: "set", path: "/a", value: 1 }])
      .then(() => 200, (e: { code: number }) => e.code);
    expect(code).toBe(404);
  });
});

describe("conditional patch (filter predicate)", () => {
  it("evaluates camelCase fields as written and applies when the predicate holds", async () => {
    const container = await server.container();
    await container.items.create({ id: "doc", userId: "u1", totalTokens: 10, lastRecordId: "r-A" });
    const result = await patch(container, {
      condition: "FROM c WHERE c.totalTokens = 10 AND c.lastRecordId = 'r-A' AND c.userId = 'u1'",
      operations: [{ op: "incr", path: "/totalTokens", value: 5 }],
    });
    expect(result.status).toBe(200);
    expect(result.doc!.totalTokens).toBe(15);
  });

  it("answers 412 and changes nothing when the predicate is false", async () => {
    const container = await server.container();
    await container.items.create({ id: "doc", userId: "u1", totalTokens: 10, lastRecordId: "r-A" });
    const before = (await container.item("doc", "u1").read()).resource;
    const result = await patch(container, {
      condition: "from c where c.lastRecordId = 'r-B'",
      operations: [{ op: "incr", path: "/totalTokens", value: 5 }],
    });
    expect(result.status).toBe(412);
    expect((await container.item("doc", "u1").read()).resource).toEqual(before);
  });

  it("answers 400 for a predicate that is not SQL", async () => {
    const container = await fresh();
    expect((await patch(container, { condition: "FROM c WHERE (((", operations: [{ op: "set", path: "/a", value: 1 }] })).status).toBe(400);
  });
});
