import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "csv-parse/sync";
import type { FastifyInstance } from "fastify";
import { createHash } from "node:crypto";
import { API_KEY_NAMESPACE, revokeApiKey } from "../../src/server/auth/api-keys.js";
import { ADMIN_KEY, app, seed, settingsBudget, sumCost, type Seeded } from "./support.js";

let seeded: Seeded;
let server: FastifyInstance;

beforeAll(async () => {
  seeded = await seed();
  server = await app(seeded, { budget: settingsBudget(seeded.monitor) });
});
afterAll(async () => {
  await server.close();
  await seeded.monitor.close();
});

type Who = "admin" | "alice" | "bob" | "none" | "wrong";
function headers(who: Who): Record<string, string> {
  switch (who) {
    case "admin":
      return { "x-api-key": ADMIN_KEY };
    case "alice":
      return { "x-api-key": seeded.aliceKey };
    case "bob":
      return { authorization: `Bearer ${seeded.bobKey}` };
    case "wrong": {
      // Alice's key with its last character changed (to one it surely is not).
      const last = seeded.aliceKey.slice(-1);
      return { "x-api-key": `${seeded.aliceKey.slice(0, -1)}${last === "A" ? "B" : "A"}` };
    }
    default:
      return {};
  }
}
const get = (url: string, who: Who) => server.inject({ method: "GET", url, headers: headers(who) });
const ids = (records: Array<{ id: string }>) => records.map((r) => r.id).sort();
const aliceIds = () => seeded.records.filter((r) => r.userId === "alice").map((r) => r.id).sort();
const aliceCost = () => sumCost(seeded.records.filter((r) => r.userId === "alice"));

const DATA_ROUTES = [
  "/token-usage/user/alice",
  "/token-usage/thread/thread-a1",
  "/token-usage/summary",
  "/token-usage/all",
  "/token-usage/export.csv",
  "/token-usage/by-model",
  "/token-usage/by-agent",
  "/token-usage/by-provider",
  "/token-usage/by/tenant",
  "/token-usage/trend",
  "/token-usage/top-threads",
  "/token-usage/top-users",
  "/token-usage/report",
  "/token-usage/recommendations",
  "/token-usage/whoami",
  "/budgets",
  "/budgets/status/alice",
];

describe("no key or a wrong key: 401 everywhere, no data", () => {
  for (const who of ["none", "wrong"] as const) {
    for (const url of DATA_ROUTES) {
      it(`${who} ${url}`, async () => {
        const res = await get(url, who);
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual({ error: "Unauthorized", message: expect.stringContaining("x-api-key") });
        expect(res.body).not.toContain("alice");
      });
    }
  }

  it("near-misses of the admin key and malformed headers are refused", async () => {
    for (const h of [
      { "x-api-key": ADMIN_KEY.slice(0, -1) },
      { "x-api-key": `${ADMIN_KEY}x` },
      { "x-api-key": ADMIN_KEY.toUpperCase() },
      { authorization: `Basic ${ADMIN_KEY}` },
      { authorization: "Bearer" },
      { "x-api-key": "tuk_000000000000_" + "A".repeat(43) },
      { "x-api-key": "x".repeat(5000) },
    ]) {
      expect((await server.inject({ url: "/token-usage/summary", headers: h })).statusCode).toBe(401);
    }
    expect((await server.inject({ url: "/token-usage/summary", headers: { authorization: `bearer ${ADMIN_KEY}` } })).statusCode).toBe(200);
  });
});

describe("a user key reads only its own user", () => {
  it("user and thread lookups of another user are 404 without data", async () => {
    for (const [url, who] of [
      ["/token-usage/user/bob", "alice"],
      ["/token-usage/user/alice", "bob"],
      ["/token-usage/thread/thread-b1", "alice"],
      ["/token-usage/thread/thread-a1", "bob"],
      ["/budgets/status/bob", "alice"],
    ] as const) {
      const res = await get(url, who);
      expect(res.statusCode, `${who} ${url}`).toBe(404);
      expect(Object.keys(res.json()).sort()).toEqual(["error", "message"]);
    }
    // The answer for another user's thread is the same as for a thread that does not exist.
    expect((await get("/token-usage/thread/thread-b1", "alice")).body).toBe((await get("/token-usage/thread/nope", "alice")).body);
  });

  it("own user and own thread are readable, with own numbers", async () => {
    const user = await get("/token-usage/user/alice", "alice");
    expect(user.statusCode).toBe(200);
    expect(user.json().totalCostNanos).toBe(aliceCost());
    const thread = await get("/token-usage/thread/thread-a1", "alice");
    expect(thread.json().totalRequests).toBe(2);
  });

  it("list, export and every breakdown are forced to the key's user", async () => {
    expect(ids((await get("/token-usage/all", "alice")).json().records)).toEqual(aliceIds());
    expect(ids((await get("/token-usage/all?threadId=thread-b1", "alice")).json().records)).toEqual([]);
    expect(ids((await get("/token-usage/all?model=gpt-4o", "alice")).json().records)).toEqual(["a1"]);
    const csv = parse((await get("/token-usage/export.csv", "alice")).body, { columns: true }) as Array<{ id: string; user_id: string }>;
    expect(ids(csv)).toEqual(aliceIds());
    expect((await get("/token-usage/summary", "alice")).json().totalCostNanos).toBe(aliceCost());
    const sum = (rows: Array<{ totalCostNanos?: number; costNanos?: number }>) => rows.reduce((n, r) => n + (r.totalCostNanos ?? r.costNanos ?? 0), 0);
    for (const url of ["/token-usage/by-model", "/token-usage/by-agent", "/token-usage/by-provider", "/token-usage/by/tenant", "/token-usage/trend", "/token-usage/top-threads"]) {
      const res = await get(url, "alice");
      expect(res.statusCode, url).toBe(200);
      expect(sum(res.json()), url).toBe(aliceCost());
      expect(res.body, url).not.toContain("bob");
      expect(res.body, url).not.toContain("thread-b1");
    }
    expect(sum((await get("/token-usage/trend?threadId=thread-b1", "alice")).json())).toBe(0);
  });

  it("asking for another user through userId is 404 on every scoped route", async () => {
    for (const url of ["/token-usage/summary", "/token-usage/all", "/token-usage/export.csv", "/token-usage/by-model", "/token-usage/by-agent", "/token-usage/by-provider", "/token-usage/by/tenant", "/token-usage/trend", "/token-usage/top-threads", "/token-usage/recommendations", "/token-usage/thread/thread-b1"]) {
      const res = await get(`${url}?userId=bob`, "alice");
      expect(res.statusCode, url).toBe(404);
      expect(res.body).not.toContain("thread-b1\",");
    }
    expect((await get("/token-usage/summary?userId=alice", "alice")).statusCode).toBe(200);
  });

  it("admin-only routes are 403 for user keys and 200 for the admin", async () => {
    for (const url of ["/token-usage/top-users", "/token-usage/report", "/budgets"]) {
      for (const who of ["alice", "bob"] as const) {
        const res = await get(url, who);
        expect(res.statusCode, `${who} ${url}`).toBe(403);
        expect(res.body).not.toMatch(/totalCost/);
      }
      const asAdmin = await get(url, "admin");
      expect(asAdmin.statusCode, `${url} ${asAdmin.body}`).toBe(200);
    }
    for (const method of ["PUT", "DELETE"] as const) {
      const res = await server.inject({ method, url: "/budgets/global:cost:day", headers: headers("alice"), payload: method === "PUT" ? { scope: "global" } : undefined });
      expect(res.statusCode).toBe(403);
    }
  });

  it("a cursor from another user's page cannot reveal that user's records", async () => {
    const page = (await get("/token-usage/all?limit=1", "admin")).json();
    const res = await get(`/token-usage/all?cursor=${page.cursor}`, "bob");
    expect(res.statusCode).toBe(200);
    expect(res.json().records.every((r: { userId: string }) => r.userId === "bob")).toBe(true);
  });
});

describe("key storage", () => {
  it("stores only a SHA-256 hash, never the key", async () => {
    const stored = await seeded.monitor.store.listSettings<Record<string, unknown>>(API_KEY_NAMESPACE);
    expect(stored).toHaveLength(2);
    const text = JSON.stringify(stored);
    expect(text).not.toContain(seeded.aliceKey);
    // The secret is everything after `tuk_<12 hex>_` (it may itself contain "_").
    expect(text).not.toContain(seeded.aliceKey.slice("tuk_".length + 13));
    const alice = stored.find((s) => s.value.userId === "alice")!.value;
    expect(alice.hash).toBe(createHash("sha256").update(seeded.aliceKey).digest("hex"));
  });

  it("a revoked key is refused at once", async () => {
    const extra = await seed([]);
    const local = await app(extra);
    try {
      expect((await local.inject({ url: "/token-usage/whoami", headers: { "x-api-key": extra.aliceKey } })).statusCode).toBe(200);
      expect(await revokeApiKey(extra.monitor.store, extra.aliceKeyId)).toBe(true);
      expect((await local.inject({ url: "/token-usage/whoami", headers: { "x-api-key": extra.aliceKey } })).statusCode).toBe(401);
      expect((await local.inject({ url: "/token-usage/whoami", headers: { "x-api-key": extra.bobKey } })).statusCode).toBe(200);
    } finally {
      await local.close();
      await extra.monitor.close();
    }
  });
});

describe("hostile strings in every parameter are data", () => {
  const hostile = [
    "' OR '1'='1",
    "alice' --",
    '"; DROP TABLE usage_records; --',
    "../../etc/passwd",
    "<script>alert(1)</script>",
    '{"$ne":null}',
    "alice\u0000bob",
    "%",
    "_",
    "*",
    "ünï©ødé 🚀",
  ];
  const enc = encodeURIComponent;

  it("as path ids: no match, never a 500, nothing leaked, nothing changed", async () => {
    for (const s of hostile) {
      const user = await get(`/token-usage/user/${enc(s)}`, "admin");
      expect([200, 400], s).toContain(user.statusCode);
      if (user.statusCode === 200) expect(user.json().totalRequests, s).toBe(0);
      expect((await get(`/token-usage/thread/${enc(s)}`, "admin")).statusCode, s).toBe(404);
      expect((await get(`/token-usage/user/${enc(s)}`, "alice")).statusCode, s).toBe(404);
      expect([200, 400], s).toContain((await get(`/token-usage/by/${enc(s)}`, "admin")).statusCode);
      expect([400, 404, 501], s).toContain((await get(`/budgets/status/${enc(s)}`, "bob")).statusCode);
    }
    expect((await get("/token-usage/summary", "admin")).json().totalCostNanos).toBe(sumCost(seeded.records));
  });

  it("as query filters: empty results or 400, never a 500", async () => {
    for (const s of hostile) {
      for (const key of ["userId", "threadId", "model", "provider", "agentName"]) {
        const res = await get(`/token-usage/all?${key}=${enc(s)}`, "admin");
        expect(res.statusCode, `${key}=${s}`).toBe(200);
        expect(res.json().records, `${key}=${s}`).toEqual([]);
        const csv = await get(`/token-usage/export.csv?${key}=${enc(s)}`, "admin");
        expect(csv.body.trim().split("\n"), `${key}=${s}`).toHaveLength(1);
      }
      for (const [route, key] of [["trend", "timeZone"], ["trend", "start"], ["trend", "end"], ["trend", "granularity"], ["trend", "days"], ["all", "cursor"], ["all", "limit"]]) {
        const res = await get(`/token-usage/${route}?${key}=${enc(s)}`, "admin");
        expect(res.statusCode, `${key}=${s}`).toBe(400);
        expect(res.headers["content-type"]).toMatch(/application\/json/);
      }
    }
    expect((await get("/token-usage/summary", "admin")).json().totalRequests).toBe(seeded.records.length);
  });
});
