/**
 * The change feed pull model (`items.getChangeFeedIterator`) on the extended local server,
 * through the real SDK, against Azure Cosmos DB's "Change feed pull model" and "latest
 * version mode": incremental reads in `_lsn` order, the latest version of each changed
 * document once, no deletes, 304 when nothing changed, continuation tokens the SDK resumes
 * from, Beginning / Now / a point in time, the whole container or one partition key.
 */
import type { ChangeFeedPullModelIterator, Container } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { cosmosSdk } from "../support/cosmos-sdk.js";
import { useLocalServer } from "./setup.js";

// From the same SDK copy as the client: the SDK checks start locations with instanceof,
// so a 4.9 ChangeFeedStartFrom given to a 4.10 client is "Invalid change feed start location".
const { ChangeFeedMode, ChangeFeedStartFrom } = cosmosSdk;

const server = useLocalServer();

type Item = { id: string; userId: string; v?: number; _lsn: number };

async function read(it: ChangeFeedPullModelIterator<Item>) {
  const page = await it.readNext();
  return { status: page.statusCode, ids: page.result.map((d) => d.id), items: page.result, token: page.continuationToken };
}

/** Reads pages until a 304; every document seen, in order, and the token to resume from. */
async function drain(it: ChangeFeedPullModelIterator<Item>) {
  const items: Item[] = [];
  for (let i = 0; i < 100; i++) {
    const page = await read(it);
    if (page.status === 304) return { items, ids: items.map((d) => d.id), token: page.token };
    items.push(...page.items);
  }
  throw new Error("the change feed never answered 304");
}

async function write(container: Container, ids: string[], userId = "u1", v = 1) {
  for (const id of ids) await container.items.upsert({ id, userId, v });
}

describe("change feed, whole container", () => {
  it("from the beginning: every document once in _lsn order, then 304 until something changes", async () => {
    const container = await server.container();
    await write(container, ["a", "b", "c"]);
    const it = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning() });
    const first = await read(it);
    expect(first.status).toBe(200);
    expect(first.ids).toEqual(["a", "b", "c"]);
    const lsns = first.items.map((d) => d._lsn);
    expect([...lsns].sort((x, y) => x - y)).toEqual(lsns);
    expect(new Set(lsns).size).toBe(3);
    expect((await read(it)).status).toBe(304);
    expect((await read(it)).status).toBe(304);
    await write(container, ["d"]);
    const next = await read(it);
    expect(next.status).toBe(200);
    expect(next.ids).toEqual(["d"]);
    expect(next.items[0]._lsn).toBeGreaterThan(Math.max(...lsns));
  });

  it("an updated document comes back once, in its latest version, after the others; deletes do not appear", async () => {
    const container = await server.container();
    await write(container, ["a", "b", "c"]);
    const it = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning() });
    await drain(it);
    await write(container, ["a"], "u1", 2);
    await write(container, ["a"], "u1", 3);
    await container.items.create({ id: "e", userId: "u1" });
    await container.item("b", "u1").patch([{ op: "incr", path: "/v", value: 10 }]);
    await container.item("c", "u1").delete();
    const { items } = await drain(it);
    expect(items.map((d) => [d.id, d.v])).toEqual([["a", 3], ["e", undefined], ["b", 11]]);
  });

  it("pages by maxItemCount and the SDK's continuation token resumes exactly after the last page", async () => {
    const container = await server.container();
    await write(container, ["d1", "d2", "d3", "d4", "d5"]);
    const it = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning(), maxItemCount: 2 });
    const p1 = await read(it);
    expect(p1.ids).toEqual(["d1", "d2"]);
    // A new consumer (another process) resumes from the token of page 1.
    const resumed = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Continuation(p1.token), maxItemCount: 2 });
    expect((await read(resumed)).ids).toEqual(["d3", "d4"]);
    expect((await read(resumed)).ids).toEqual(["d5"]);
    const done = await read(resumed);
    expect(done.status).toBe(304);
    await write(container, ["d6"]);
    const later = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Continuation(done.token) });
    expect((await read(later)).ids).toEqual(["d6"]);
    expect((await read(later)).status).toBe(304);
  });

  it("from now: nothing that was there before, then only new changes", async () => {
    const container = await server.container();
    await write(container, ["old1", "old2"]);
    const it = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Now() });
    expect((await read(it)).status).toBe(304);
    await write(container, ["new1"]);
    await write(container, ["old1"], "u1", 5);
    expect((await drain(it)).ids).toEqual(["new1", "old1"]);
  });

  it("from a point in time: only documents written at or after it", async () => {
    const container = await server.container();
    await write(container, ["before"]);
    await new Promise((r) => setTimeout(r, 1100)); // _ts has a resolution of one second
    const start = new Date();
    await new Promise((r) => setTimeout(r, 1100));
    await write(container, ["after"]);
    const it = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Time(start) });
    expect((await drain(it)).ids).toEqual(["after"]);
  });

  it("a rolled-back batch leaves no trace in the feed; a committed one shows every write", async () => {
    const container = await server.container();
    await write(container, ["a"]);
    const it = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Now() });
    await read(it);
    const failed = await container.items.batch(
      [
        { operationType: "Create", resourceBody: { id: "x", userId: "u1" } },
        { operationType: "Create", resourceBody: { id: "a", userId: "u1" } },
      ],
      "u1",
    );
    expect(failed.code).toBe(207);
    expect((await read(it)).status).toBe(304);
    await container.items.batch(
      [
        { operationType: "Create", resourceBody: { id: "x", userId: "u1" } },
        { operationType: "Patch", id: "a", resourceBody: [{ op: "incr", path: "/v", value: 1 }] },
      ],
      "u1",
    );
    expect((await drain(it)).ids).toEqual(["x", "a"]);
  });
});

describe("change feed modes", () => {
  it("refuses all-versions-and-deletes mode (not served by this stand-in) rather than answering the wrong shape", async () => {
    const container = await server.container();
    const it = container.items.getChangeFeedIterator<Item>({
      changeFeedStartFrom: ChangeFeedStartFrom.Now(),
      changeFeedMode: ChangeFeedMode.AllVersionsAndDeletes,
    });
    await expect(it.readNext()).rejects.toMatchObject({ code: 400, message: expect.stringMatching(/latest-version/) });
  });
});

describe("change feed, by feed range", () => {
  it("the container's feed ranges cover every change", async () => {
    const container = await server.container();
    await write(container, ["a"], "alice");
    await write(container, ["b"], "bob");
    const ranges = await container.getFeedRanges();
    const ids: string[] = [];
    for (const range of ranges) {
      ids.push(...(await drain(container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning(range) }))).ids);
    }
    expect(ids.sort()).toEqual(["a", "b"]);
  });
});

describe("change feed, one partition key", () => {
  it("reads only that partition key's changes, incrementally, and resumes from its token", async () => {
    const container = await server.container();
    await write(container, ["a1", "a2"], "alice");
    await write(container, ["b1"], "bob");
    const it = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning("alice") });
    const first = await drain(it);
    expect(first.ids).toEqual(["a1", "a2"]);
    await write(container, ["b2"], "bob");
    expect((await read(it)).status).toBe(304);
    await write(container, ["a3"], "alice");
    await write(container, ["a1"], "alice", 9);
    const resumed = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Continuation(first.token) });
    expect((await drain(resumed)).items.map((d) => [d.id, d.userId, d.v])).toEqual([["a3", "alice", 1], ["a1", "alice", 9]]);
    const bob = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning("bob") });
    expect((await drain(bob)).ids).toEqual(["b1", "b2"]);
  });
});

describe("change feed faults", () => {
  it("an injected 503 on a change-feed read surfaces and the next read carries on from the same place", async () => {
    const container = await server.noRetryClient.database(server.local.databaseId).container((await server.container()).id);
    await write(container, ["a"]);
    const it = container.items.getChangeFeedIterator<Item>({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning() });
    expect((await read(it)).ids).toEqual(["a"]);
    await write(container, ["b"]);
    server.local.faults.failNext("changeFeed", 1, { status: 503 });
    await expect(it.readNext()).rejects.toMatchObject({ code: 503 });
    expect((await drain(it)).ids).toEqual(["b"]);
  });
});
