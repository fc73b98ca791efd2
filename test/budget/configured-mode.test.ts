/**
 * The configured mode applies to limits set without one, through every door: code, the
 * REST API (a real guard behind `buildApp`), and the limits file; the answer says which
 * mode was stored.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createBudgetGuard } from "../../src/budget/index.js";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { buildApp } from "../../src/server/index.js";

const ADMIN = "admin-key-for-the-mode-test-0123456789";
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function world(env: NodeJS.ProcessEnv) {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", env: {}, budget: false, logger: { warn: () => undefined, error: () => undefined } });
  const guard = createBudgetGuard(monitor, { env });
  cleanups.push(() => monitor.close(), () => guard.close());
  return { monitor, guard };
}

describe("the configured budget mode", () => {
  it("BUDGET_ENFORCEMENT=block: a limit set through REST without a mode is stored in block mode and refuses", async () => {
    const { monitor, guard } = world({ BUDGET_ENFORCEMENT: "block" });
    const app = await buildApp({ monitor, budget: guard, adminKey: ADMIN, env: {} });
    cleanups.push(() => app.close());
    const res = await app.inject({
      method: "PUT",
      url: "/budgets/rest-day",
      headers: { "x-api-key": ADMIN },
      payload: { scope: "user:carol", metric: "tokens", amount: 10 },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().limit).toMatchObject({ id: "rest-day", mode: "block" });
    expect((await guard.listLimits()).find((l) => l.id === "rest-day")?.mode).toBe("block");
    const decision = await guard.check("carol", { estimate: { tokens: 50, costNanos: 0 } });
    expect(decision.allowed).toBe(false);
  });

  it("in code, an explicit mode wins and a missing one takes the configured mode (warn by default)", async () => {
    const blocking = world({ BUDGET_ENFORCEMENT: "block" }).guard;
    expect((await blocking.setLimit({ id: "a", scope: "global", metric: "requests", amount: 5 })).mode).toBe("block");
    expect((await blocking.setLimit({ id: "b", scope: "global", metric: "requests", amount: 5, mode: "warn" })).mode).toBe("warn");
    const warning = world({}).guard;
    expect((await warning.setLimit({ id: "c", scope: "global", metric: "requests", amount: 5 })).mode).toBe("warn");
  });
});
