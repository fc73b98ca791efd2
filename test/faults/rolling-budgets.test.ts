/**
 * A rolling window shared by a fleet: four real Node processes on one SQLite file, and
 * four with their own clients on one container of the local Cosmos server, call a fake
 * OpenAI server through a real ChatOpenAI under one per-user limit of 1,000 tokens in
 * the last hour (25 tokens a call, estimated and reported exactly, so the overshoot
 * bound is zero). Every process's guard runs on a clock the test moves, so the window
 * slides during the test:
 *   phase 0, now:        20 calls (500 tokens), all admitted;
 *   phase 1, +30 min:    60 calls, only the 500 tokens left are admitted;
 *   phase 2, +62 min:    phase 0's usage has left the window (1-minute buckets), phase 1's
 *                        has not: the room that came back is admitted, no more.
 * Then a fifth guard reads the window's usage from the store at +62 min: phases 1 and 2.
 * On Cosmos the counter judges the window by the service's time, so the local server's
 * clock is moved with the guards'.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIChatServer } from "../providers/fake-servers/openai-chat.js";
import { LOCAL_KEY, startLocalCosmos, type LocalCosmos } from "../support/cosmos-server.js";
import { startFixture, type RunningChild } from "./support/children.js";
import { budgetedMonitorFor, type StoreArgs } from "./support/fleet-stores.js";

const PROCESSES = 4;
const PER_CALL = 25;
const LIMIT = 1000;
const MIN = 60_000;
const PHASES = [
  { shift: 0, callsEach: 5 },
  { shift: 30 * MIN, callsEach: 15 },
  { shift: 62 * MIN, callsEach: 15 },
];
const ROLLING = { id: "roller-1h", scope: "user:roller", metric: "tokens", amount: LIMIT, period: { rollingHours: 1 }, mode: "block" } as const;

let cosmos: LocalCosmos;
beforeAll(async () => {
  cosmos = await startLocalCosmos();
});
afterAll(async () => {
  await cosmos?.close();
});

async function runFleet(args: StoreArgs, label: string) {
  const dir = mkdtempSync(join(tmpdir(), "tt-rolling-fleet-"));
  const server = await startFakeOpenAIChatServer({ usage: { input: 5, output: 20 } });
  const setup = budgetedMonitorFor(args, cosmos);
  await setup.guard.setLimit(ROLLING);
  await setup.monitor.close();
  const children: RunningChild[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const config = { ...args, dir, url: server.url, user: "roller", phases: PHASES.map((p) => p.callsEach), concurrency: 3 };
    children.push(startFixture("rolling-budget-child.ts", [JSON.stringify(config)]));
  }
  try {
    await Promise.all(children.map((c) => c.waitFor(/^ready$/, 60_000)));
    const admitted: number[] = [];
    for (const [i, phase] of PHASES.entries()) {
      // Cosmos judges the window by the service's time: the local server's clock moves with the guards'.
      if (args.store === "cosmos") cosmos.clock.set(Date.now() + phase.shift);
      writeFileSync(join(dir, `phase-${i}`), String(phase.shift));
      const lines = await Promise.all(children.map((c) => c.waitFor(new RegExp(`^(phase ${i} |error )`), 120_000)));
      for (const [k, line] of lines.entries()) expect(line, children[k].stderr()).toMatch(/^phase /);
      const results = lines.map((l) => JSON.parse(l.slice(`phase ${i} `.length)) as { ok: number; refused: number });
      expect(results.reduce((n, r) => n + r.ok + r.refused, 0)).toBe(PROCESSES * phase.callsEach);
      admitted.push(results.reduce((n, r) => n + r.ok, 0));
    }
    await Promise.all(children.map((c) => c.exited));
    const reader = budgetedMonitorFor(args, cosmos, PHASES[2].shift);
    const [status] = await reader.guard.getBudgetStatus("roller");
    await reader.monitor.close();
    const warnings = children.map((c) => c.stderr()).join("").split("\n").filter((l) => l.includes("call allowed"));
    console.log(`[rolling:${label}] admitted per phase ${admitted.join(", ")} (of ${PHASES.map((p) => p.callsEach * PROCESSES).join(", ")}); window used at +62 min ${status.used} tokens; provider requests ${server.requests}`);
    return { admitted, status, requests: server.requests, warnings };
  } finally {
    for (const c of children) c.child.kill("SIGKILL");
    await server.close();
  }
}

function expectSlidingWindow(run: Awaited<ReturnType<typeof runFleet>>) {
  const [a0, a1, a2] = run.admitted;
  const perWindow = LIMIT / PER_CALL;
  // No call was let through because the store could not be reached.
  expect(run.warnings).toEqual([]);
  // Phase 0 fits whole.
  expect(a0).toBe(20);
  // Phase 1 shares the window with phase 0: only what is left, and most of it.
  expect(a0 + a1).toBeLessThanOrEqual(perWindow);
  expect(a1).toBeGreaterThanOrEqual(15);
  // Phase 2: phase 0 has left the window, phase 1 has not.
  expect(a1 + a2).toBeLessThanOrEqual(perWindow);
  expect(a2).toBeGreaterThan(0);
  expect(a2).toBeGreaterThanOrEqual(Math.floor((perWindow - a1) * 0.75));
  // Every process reads the same window from the store: phases 1 and 2, not phase 0.
  expect(run.status).toMatchObject({ limitId: ROLLING.id, scope: "user:roller", used: (a1 + a2) * PER_CALL, resetsAt: null });
  // No request for a refused call reached the provider.
  expect(run.requests).toBe(a0 + a1 + a2);
}

describe("a rolling window shared by several processes", () => {
  it("four processes on one SQLite file stay within the window as it slides", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-rolling-sqlite-"));
    expectSlidingWindow(await runFleet({ store: "sqlite", path: join(dir, "usage.db") }, "sqlite"));
  }, 240_000);

  it("four processes with their own clients on one Cosmos container stay within the window as it slides", async () => {
    const args = { store: "cosmos" as const, endpoint: cosmos.endpoint, key: LOCAL_KEY, databaseId: cosmos.databaseId, containerId: cosmos.uniqueContainerId("rolling") };
    expectSlidingWindow(await runFleet(args, "cosmos"));
  }, 240_000);
});
