/**
 * Budgets shared by a fleet: four real Node processes on one SQLite file, and four
 * processes with their own Cosmos clients on one container of the local Cosmos server,
 * make concurrent calls through a real ChatOpenAI against fake OpenAI servers (one per
 * limit kind, so each server counts the calls of one limit). Each call is estimated at
 * 25 tokens (prompt "hi": 5, max_tokens 20) and the servers report exactly 25, so the
 * overshoot bound is zero: admitted spend must stay within each limit, and no refused
 * call may reach a server. Then a fifth process sets a new limit and every one of the
 * four must refuse within the documented time (limits are re-read every 2 s).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIChatServer } from "../providers/fake-servers/openai-chat.js";
import type { FakeServer } from "../providers/fake-servers/shared.js";
import { LOCAL_KEY, startLocalCosmos, type LocalCosmos } from "../support/cosmos-server.js";
import { startFixture, type RunningChild } from "./support/children.js";
import { budgetedMonitorFor, type StoreArgs } from "./support/fleet-stores.js";

const PROCESSES = 4;
const CALLS = 60;
const PER_CALL = 25;
/** The documented bound: stored limits are re-read every 2 s; a call then sees the change. */
const LIMIT_REFRESH_MS = 2000;

const LIMITS = [
  { id: "alice-day", scope: "user:alice", metric: "tokens", amount: 4000, mode: "block" },
  { id: "acme-day", scope: "dimension:tenant=acme", metric: "tokens", amount: 2000, mode: "block" },
  { id: "planner-day", scope: "agent:planner", metric: "tokens", amount: 2000, mode: "block" },
  { id: "gpt-4o-day", scope: "model:gpt-4o", metric: "tokens", amount: 2000, mode: "block" },
  { id: "r-user-rpm", scope: "user:r-user", metric: "requests", amount: 40, period: "minute", mode: "block" },
] as const;

let cosmos: LocalCosmos;
beforeAll(async () => {
  cosmos = await startLocalCosmos();
});
afterAll(async () => {
  await cosmos?.close();
});

async function runFleet(args: StoreArgs) {
  const dir = mkdtempSync(join(tmpdir(), "tt-budget-fleet-"));
  const servers: Record<string, FakeServer> = {};
  for (const name of ["alice", "tenant", "agent", "model", "rpm", "late"]) servers[name] = await startFakeOpenAIChatServer({ usage: { input: 5, output: 20 } });
  const setup = budgetedMonitorFor(args, cosmos);
  for (const l of LIMITS) await setup.guard.setLimit(l as never);
  await setup.monitor.close();

  const goFile = join(dir, "go");
  const children: RunningChild[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const streams = [
      { name: "alice", url: servers.alice.url, model: "gpt-4o-mini", user: "alice" },
      { name: "tenant", url: servers.tenant.url, model: "gpt-4o-mini", user: `t${i}`, metadata: { tenant: "acme" } },
      { name: "agent", url: servers.agent.url, model: "gpt-4o-mini", user: `a${i}`, metadata: { lc_agent_name: "planner" } },
      { name: "model", url: servers.model.url, model: "gpt-4o", user: `m${i}` },
      { name: "rpm", url: servers.rpm.url, model: "gpt-4o-mini", user: "r-user" },
    ];
    const config = { ...args, goFile, streams, callsPerStream: CALLS, concurrency: 4, lateUser: "late", lateUrl: servers.late.url };
    children.push(startFixture("budget-child.ts", [JSON.stringify(config)]));
  }
  try {
    await Promise.all(children.map((c) => c.waitFor(/^ready$/, 60_000)));
    const started = Date.now();
    writeFileSync(goFile, "go");
    const lines = await Promise.all(children.map((c) => c.waitFor(/^(result|error) /, 120_000)));
    const ended = Date.now();
    for (const [i, line] of lines.entries()) expect(line, children[i].stderr()).toMatch(/^result /);
    const results = lines.map((l) => JSON.parse(l.slice("result ".length)) as { results: Record<string, { ok: number; refused: number }>; roundTrips: number });
    const sum = (name: string, k: "ok" | "refused") => results.reduce((n, r) => n + r.results[name][k], 0);
    const warnings = children.map((c) => c.stderr()).join("").split("\n").filter((l) => l.includes("[token-tracking]"));

    // Phase 2: a fifth process sets a limit that refuses every call of `late`.
    await Promise.all(children.map((c) => c.waitFor(/^phase2$/, 60_000)));
    await new Promise((r) => setTimeout(r, 300));
    const setter = startFixture("budget-child.ts", [
      JSON.stringify({ ...args, mode: "set-limit", limit: { id: "late-stop", scope: "user:late", metric: "requests", amount: 0, period: "minute", mode: "block" } }),
    ]);
    const setAt = Number((await setter.waitFor(/^set \d+$/, 60_000)).split(" ")[1]);
    const refusedAt = (await Promise.all(children.map((c) => c.waitFor(/^refused \d+$/, 30_000)))).map((l) => Number(l.split(" ")[1]));
    await Promise.all([...children, setter].map((c) => c.exited));

    // What the store holds: every admitted call recorded once.
    const check = budgetedMonitorFor(args, cosmos);
    const aliceTokens = (await check.monitor.getUserUsage("alice", { days: 1 })).totalTokens;
    await check.monitor.close();
    return { results, sum, started, ended, servers, setAt, refusedAt, aliceTokens, warnings };
  } finally {
    for (const c of children) c.child.kill("SIGKILL");
    for (const s of Object.values(servers)) await s.close();
  }
}

function expectWithinLimits(run: Awaited<ReturnType<typeof runFleet>>, label: string) {
  const { sum, servers } = run;
  const lines: string[] = [];
  // No call was let through because the store could not be reached.
  expect(run.warnings.filter((w) => /call allowed/.test(w))).toEqual([]);
  for (const [name, limit] of [["alice", 4000], ["tenant", 2000], ["agent", 2000], ["model", 2000]] as const) {
    const ok = sum(name, "ok");
    lines.push(`${name}: ${ok} admitted (${ok * PER_CALL} of ${limit} tokens), ${sum(name, "refused")} refused`);
    expect(ok + sum(name, "refused")).toBe(PROCESSES * CALLS);
    // Estimates equal actual usage, so the bound (sum of actual - estimate over calls in flight) is zero.
    expect(ok * PER_CALL).toBeLessThanOrEqual(limit);
    // Leases handed out the budget: most of it was spent, not stranded in idle leases.
    expect(ok * PER_CALL).toBeGreaterThanOrEqual(limit * 0.75);
    // No request for a refused call reached the provider.
    expect(servers[name].requests).toBe(ok);
  }
  const minutes = Math.floor(run.ended / 60_000) - Math.floor(run.started / 60_000) + 1;
  const rpm = sum("rpm", "ok");
  lines.push(`rpm: ${rpm} admitted in ${minutes} minute window(s) of 40`);
  expect(rpm).toBeLessThanOrEqual(40 * minutes);
  expect(rpm).toBeGreaterThanOrEqual(30);
  expect(servers.rpm.requests).toBe(rpm);
  expect(run.aliceTokens).toBe(sum("alice", "ok") * PER_CALL);
  const delays = run.refusedAt.map((t) => t - run.setAt);
  lines.push(`limit set by a fifth process reached the four in ${delays.join(", ")} ms; round trips per process ${run.results.map((r) => r.roundTrips).join(", ")}`);
  console.log(`[budgets:${label}] ${lines.join("; ")}`);
  // The documented bound (2 s), plus one store read and one 50 ms call interval, with slack for a loaded machine.
  for (const d of delays) expect(d).toBeLessThanOrEqual(LIMIT_REFRESH_MS + 1500);
  expect(servers.late.requests).toBeGreaterThan(0);
}

describe("budgets shared by several processes", () => {
  it("four processes on one SQLite file stay within every limit, and a new limit reaches all of them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-budget-sqlite-"));
    const run = await runFleet({ store: "sqlite", path: join(dir, "usage.db") });
    expectWithinLimits(run, "sqlite");
  }, 240_000);

  it("four processes with their own clients on one Cosmos container stay within every limit, and a new limit reaches all of them", async () => {
    const run = await runFleet({ store: "cosmos", endpoint: cosmos.endpoint, key: LOCAL_KEY, databaseId: cosmos.databaseId, containerId: cosmos.uniqueContainerId("budget") });
    expectWithinLimits(run, "cosmos");
  }, 240_000);
});
