/**
 * Strict request validation on every route: an undeclared query parameter or body field is a
 * 400 naming it (Fastify's default Ajv removed it silently: as admin, `export.csv?user_id=bob`
 * exported every user's rows). The route list is read from the server itself (an `onRoute`
 * hook), so a route added later is tested without anyone adding it here.
 */
import Fastify, { type FastifyInstance, type RouteOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tokenUsagePlugin } from "../../src/server/plugin.js";
import { ADMIN_KEY, app, seed, settingsBudget, type Seeded } from "./support.js";

let seeded: Seeded;
let built: FastifyInstance;
let hosted: FastifyInstance;
let budget: ReturnType<typeof settingsBudget>;
const routes: Array<{ method: string; url: string; public: boolean }> = [];

/** Values for path parameters: ones that exist, so a 400 cannot come from a bad id. */
const PARAMS: Record<string, string> = { userId: "alice", threadId: "thread-a1", dimension: "tenant", limitId: "strict-test-limit" };

function concrete(url: string): string {
  return url.replace(/:(\w+)/g, (_m, name: string) => {
    expect(PARAMS[name], `a value for path parameter :${name}`).toBeDefined();
    return encodeURIComponent(PARAMS[name]);
  });
}

beforeAll(async () => {
  seeded = await seed();
  budget = settingsBudget(seeded.monitor);
  built = await app(seeded, { budget });
  // The same plugin mounted in a host app with its own Ajv defaults, listing every route it adds.
  hosted = Fastify();
  hosted.addHook("onRoute", (route: RouteOptions) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, public: Boolean((route.config as { public?: boolean } | undefined)?.public) });
  });
  await hosted.register(tokenUsagePlugin, { monitor: seeded.monitor, budget, adminKey: ADMIN_KEY, env: {} });
  await hosted.ready();
});
afterAll(async () => {
  await built.close();
  await hosted.close();
  await seeded.monitor.close();
});

/** Hostile or merely unknown parameter names, each sent alone with a harmless value. */
const UNKNOWN = ["user_id", "userid", "UserId", "user", "__proto__", "constructor", "prototype", "toString", "foo[bar]", "a.b", "", "x".repeat(300), "days ", "🙂"];

describe("every route refuses an unknown query parameter, naming it", () => {
  it("the route list was read from the server", () => {
    const paths = new Set(routes.map((r) => r.url));
    for (const p of ["/token-usage/export.csv", "/token-usage/summary", "/budgets/:limitId", "/health", "/"]) expect(paths).toContain(p);
    expect(routes.length).toBeGreaterThanOrEqual(20);
  });

  for (const server of ["buildApp", "plugin in a host app"] as const) {
    it(`${server}: as admin, every route x every unknown name`, async () => {
      const target = server === "buildApp" ? built : hosted;
      let checked = 0;
      for (const route of routes) {
        for (const name of UNKNOWN) {
          const url = `${concrete(route.url)}?${encodeURIComponent(name)}=bob`;
          const res = await target.inject({ method: route.method as "GET", url, headers: { "x-api-key": ADMIN_KEY } });
          expect(res.statusCode, `${route.method} ${url}: ${res.body}`).toBe(400);
          if (route.method !== "HEAD") {
            const body = res.json();
            expect(body).toMatchObject({ error: "ValidationError", code: "ERR_VALIDATION", field: name });
            expect(body.message).toContain("is not a query parameter");
          }
          checked++;
        }
      }
      expect(checked).toBe(routes.length * UNKNOWN.length);
    });
  }

  it("a user key and no key: public routes 400, the others 401 before any parameter is read", async () => {
    for (const route of routes) {
      const url = `${concrete(route.url)}?user_id=bob`;
      const asAlice = await built.inject({ method: route.method as "GET", url, headers: { "x-api-key": seeded.aliceKey } });
      expect(asAlice.statusCode, `${route.method} ${url}`).toBe(400);
      const anonymous = await built.inject({ method: route.method as "GET", url });
      expect(anonymous.statusCode, `${route.method} ${url}`).toBe(route.public ? 400 : 401);
    }
  });

  it("the two leaks found: export.csv and summary with user_id=bob", async () => {
    for (const path of ["/token-usage/export.csv", "/token-usage/summary"]) {
      const res = await built.inject({ method: "GET", url: `${path}?user_id=bob`, headers: { "x-api-key": ADMIN_KEY } });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ field: "user_id" });
      expect(res.body).not.toContain("alice");
    }
    // The declared name still filters.
    const ok = await built.inject({ method: "GET", url: "/token-usage/summary?userId=bob", headers: { "x-api-key": ADMIN_KEY } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().totalCost).toBe(seeded.records.filter((r) => r.userId === "bob").reduce((n, r) => n + r.totalCost, 0));
  });

  it("declared parameters are still accepted (one unknown beside them is not)", async () => {
    const good = await built.inject({ method: "GET", url: "/token-usage/all?days=30&limit=2&userId=alice&model=gpt-4o", headers: { "x-api-key": ADMIN_KEY } });
    expect(good.statusCode).toBe(200);
    const bad = await built.inject({ method: "GET", url: "/token-usage/all?days=30&limit=2&userId=alice&modle=gpt-4o", headers: { "x-api-key": ADMIN_KEY } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ field: "modle" });
  });
});

describe("bodies: only declared fields", () => {
  const put = (target: FastifyInstance, payload: unknown) =>
    target.inject({ method: "PUT", url: "/budgets/strict-test-limit", headers: { "x-api-key": ADMIN_KEY }, payload: payload as object });

  for (const server of ["buildApp", "plugin in a host app"] as const) {
    it(`${server}: a budget limit with an unknown field is refused before the guard sees it`, async () => {
      const target = server === "buildApp" ? built : hosted;
      const calls = budget.calls.length;
      for (const name of ["user_id", "amountt", "__proto__", "constructor"]) {
        const res = await target.inject({
          method: "PUT",
          url: "/budgets/strict-test-limit",
          headers: { "x-api-key": ADMIN_KEY, "content-type": "application/json" },
          payload: `{"scope":"global","metric":"cost","amount":5,${JSON.stringify(name)}:1}`,
        });
        expect(res.statusCode, `${name}: ${res.body}`).toBe(400);
        // Fastify's own prototype-poisoning guard refuses `__proto__` while parsing, earlier still.
        if (name === "__proto__") expect(res.json().error).toBe("FST_ERR_CTP_INVALID_JSON_BODY");
        else expect(res.json()).toMatchObject({ field: name });
      }
      expect(budget.calls.length).toBe(calls);
      const ok = await put(target, { scope: "global", metric: "cost", amount: 5 });
      expect(ok.statusCode).toBe(200);
    });
  }

  it("a body sent to a route that takes none is refused, on every such route", async () => {
    for (const route of routes.filter((r) => r.method !== "GET" && r.method !== "HEAD" && r.url !== "/budgets/:limitId")) {
      const res = await built.inject({ method: route.method as "DELETE", url: concrete(route.url), headers: { "x-api-key": ADMIN_KEY }, payload: { userId: "bob" } });
      expect(res.statusCode, `${route.method} ${route.url}`).toBe(400);
    }
    const del = await built.inject({ method: "DELETE", url: "/budgets/strict-test-limit", headers: { "x-api-key": ADMIN_KEY }, payload: { userId: "bob" } });
    expect(del.statusCode).toBe(400);
    expect(del.json()).toMatchObject({ field: "body" });
  });
});
