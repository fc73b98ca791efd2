/**
 * The whole cost of tracking a model call, not only the slice on the agent's path: each
 * call goes through LangChain's real `invoke()` on a chat model that reports usage, and
 * the timed window also holds `awaitAllCallbacks()` (LangChain's background callback
 * queue) and `monitor.flush()` (building, pricing, sanitising, the message to the SQLite
 * worker and the insert). CPU is `process.cpuUsage()`, which counts every thread of the
 * process, so the SQLite worker's work is in it. Four kinds, each in a process of its own,
 * the processes taking turns so all see the same machine load: no handler, a no-op
 * handler, this package (the default store: SQLite in a temp file, on its worker thread)
 * and `@langfuse/langchain`'s handler with no exporter (its spans go nowhere).
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import { HumanMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { CallbackHandler as LangfuseHandler } from "@langfuse/langchain";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ScriptedChatModel } from "../examples/lib/scripted-chat-model.js";
import { attachTokenTracking, createTokenMonitor } from "../src/index.js";
import type { TokenMonitoringService } from "../src/monitor/token-monitor.js";
import { DEFAULT_FLUSH_INTERVAL_MS } from "../src/writer/writer-options.js";
import { fmt, median, type Row } from "./stats.js";

class NoopHandler extends BaseCallbackHandler {
  name = "noop";
  override handleChatModelStart() {}
  override handleLLMEnd() {}
}

/**
 * `oursEach`: this package with `monitor.flush()` after every call, one record per commit (a
 * serverless handler's pattern). `oursFleet`: calls spread over many users, a handler attached
 * per call as an application does per request, and a flush per writer interval of a replica
 * at `FLEET_CALLS_PER_SECOND` (a flush every 50 calls with the default 1 s interval; `oursFleet200`
 * the same with the 200 ms interval of earlier versions, every 10 calls): each commit then
 * touches a page of its own per user in every per-user table and index, where one user's
 * 200 calls share them.
 */
type Kind = "none" | "noop" | "ours" | "oursEach" | "oursFleet" | "oursFleet200" | "langfuse";
const KINDS: Kind[] = ["none", "noop", "ours", "oursEach", "oursFleet", "oursFleet200", "langfuse"];
type FleetKind = "oursFleet" | "oursFleet200";
const isFleet = (k: Kind): k is FleetKind => k === "oursFleet" || k === "oursFleet200";
const tracked = (k: Kind) => k === "ours" || k === "oursEach" || isFleet(k);
export const FLEET_USERS = 10_000;
export const FLEET_CALLS_PER_SECOND = 50;
/** Calls per flush of a fleet kind: what the replica makes in one writer interval. */
const flushEvery = (kind: FleetKind) => (FLEET_CALLS_PER_SECOND * (kind === "oursFleet" ? DEFAULT_FLUSH_INTERVAL_MS : 200)) / 1000;

const baseConfig = { metadata: { user_id: "user-42", thread_id: "thread-7", request_kind: "support" } } satisfies RunnableConfig;
const prompt = [new HumanMessage("What is the weather in Paris?")];

export interface WholeCostSetup {
  monitor: TokenMonitoringService;
  configs: Record<Exclude<Kind, FleetKind>, RunnableConfig>;
  /** The config of the fleet kind's `n`th call: its user's, with a handler attached for it. */
  fleetConfig(n: number): RunnableConfig;
  /** Calls made so far by the fleet kind (its users and flushes follow this count). */
  fleetCalls: number;
  close(): Promise<number>;
}

/** The package's entry points, so another revision of it can be measured the same way. */
export interface PackageEntry {
  createTokenMonitor: typeof createTokenMonitor;
  attachTokenTracking: typeof attachTokenTracking;
}

/** The monitor as an application gets it by default (a SQLite file, the worker thread). */
export function wholeCostSetup(pkg: PackageEntry = { createTokenMonitor, attachTokenTracking }, options: { sqliteWorker?: boolean } = {}): WholeCostSetup {
  const dir = mkdtempSync(join(tmpdir(), "tt-whole-"));
  const monitor = pkg.createTokenMonitor({
    sqlitePath: join(dir, "usage.db"),
    env: {},
    logger: { warn: () => undefined, error: (m) => console.error(m) },
    ...options,
  });
  const configs: WholeCostSetup["configs"] = {
    none: baseConfig,
    noop: { ...baseConfig, callbacks: [new NoopHandler()] },
    ours: pkg.attachTokenTracking({ ...baseConfig }, { monitor, agentName: "bench" }),
    oursEach: pkg.attachTokenTracking({ ...baseConfig }, { monitor, agentName: "bench" }),
    langfuse: { ...baseConfig, callbacks: [new LangfuseHandler({ userId: "user-42", sessionId: "thread-7" })] },
  };
  return {
    monitor,
    configs,
    fleetCalls: 0,
    fleetConfig(n) {
      // Users in a scattered order (7,919 is prime to FLEET_USERS), three threads each.
      const user = (n * 7919) % FLEET_USERS;
      const metadata = { user_id: `user-${user}`, thread_id: `thread-${user}-${n % 3}`, request_kind: "support" };
      return pkg.attachTokenTracking({ metadata }, { monitor, agentName: "bench" });
    },
    async close() {
      await monitor.flush();
      const stored = (await monitor.getOverallUsage({ days: 1, end: new Date(Date.now() + 60_000) })).totalRequests;
      await monitor.close();
      rmSync(dir, { recursive: true, force: true });
      return stored;
    },
  };
}

/** One batch of calls, and what it cost: µs of CPU (all threads) and of wall time per call. */
export async function wholeCostBatch(setup: WholeCostSetup, kind: Kind, calls: number): Promise<{ cpu: number; wall: number }> {
  const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
  const config = isFleet(kind) ? undefined : setup.configs[kind];
  const every = isFleet(kind) ? flushEvery(kind) : 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    if (config) {
      await model.invoke(prompt, config);
      if (kind === "oursEach") await setup.monitor.flush();
    } else {
      const n = setup.fleetCalls++;
      await model.invoke(prompt, setup.fleetConfig(n));
      if ((n + 1) % every === 0) await setup.monitor.flush();
    }
  }
  await awaitAllCallbacks();
  if (kind === "ours") await setup.monitor.flush();
  const wall = Number(process.hrtime.bigint() - t0) / 1000 / calls;
  const c = process.cpuUsage(cpu0);
  return { cpu: (c.user + c.system) / calls, wall };
}

interface ChildResult {
  cpu: number;
  wall: number;
  stored: number;
}

/**
 * One kind alone in this process: warm-up rounds (LangChain's code reaches its optimised
 * tiers), then `rounds` measured rounds; the medians per call, and the records stored.
 */
async function measureKindAlone(kind: Kind, rounds: number, calls: number): Promise<ChildResult> {
  const setup = wholeCostSetup();
  for (let r = 0; r < WARMUP_ROUNDS; r++) await wholeCostBatch(setup, kind, calls);
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const b = await wholeCostBatch(setup, kind, calls);
    cpu.push(b.cpu);
    wall.push(b.wall);
  }
  const stored = await setup.close();
  return { cpu: median(cpu), wall: median(wall), stored };
}

const WARMUP_ROUNDS = 40;

/**
 * Each kind runs in a process of its own, so each pays for its own garbage and nobody
 * else's (in one shared process, whatever a kind left behind was collected during the next
 * kind's window). The processes take turns, `repeat` times, their order rotating; the
 * figures are medians over those turns.
 */
export async function benchWholeCost(repeat = 3, rounds = 30, calls = 200): Promise<Row[]> {
  const self = fileURLToPath(import.meta.url);
  const samples = Object.fromEntries(KINDS.map((k) => [k, { cpu: [] as number[], wall: [] as number[] }])) as Record<Kind, { cpu: number[]; wall: number[] }>;
  let stored = 0;
  for (let turn = 0; turn < repeat; turn++) {
    for (let k = 0; k < KINDS.length; k++) {
      const kind = KINDS[(turn + k) % KINDS.length];
      const out = execFileSync(process.execPath, [...process.execArgv, self, "--whole-cost-child", kind, String(rounds), String(calls)], { encoding: "utf8" });
      const r = JSON.parse(out.trim().split("\n").pop()!) as ChildResult;
      samples[kind].cpu.push(r.cpu);
      samples[kind].wall.push(r.wall);
      if (tracked(kind)) stored += r.stored;
    }
  }
  const expected = 4 * repeat * (WARMUP_ROUNDS + rounds) * calls;
  const m = (k: Kind, what: "cpu" | "wall") => median(samples[k][what]);
  const over = (k: Kind, what: "cpu" | "wall") => m(k, what) - m("noop", what);
  const section = "whole cost";
  return [
    {
      section,
      measure: "per call through invoke(), flush inside: CPU (all threads) / wall, no handler",
      value: `${fmt(m("none", "cpu"))} / ${fmt(m("none", "wall"))} µs`,
      note: `each kind alone in its own process, ${repeat} turns taking turns; per turn ${WARMUP_ROUNDS} warm-up and ${rounds} measured rounds of ${calls} calls; medians`,
    },
    { section, measure: "same, no-op handler", value: `${fmt(m("noop", "cpu"))} / ${fmt(m("noop", "wall"))} µs` },
    {
      section,
      measure: "same, this package (default SQLite file, worker thread)",
      value: `${fmt(m("ours", "cpu"))} / ${fmt(m("ours", "wall"))} µs`,
      note: `${stored.toLocaleString("en-US")} of ${expected.toLocaleString("en-US")} records stored`,
    },
    {
      section,
      measure: "same, this package with monitor.flush() after every call (one record per commit, as a serverless handler does)",
      value: `${fmt(m("oursEach", "cpu"))} / ${fmt(m("oursEach", "wall"))} µs`,
    },
    ...(["oursFleet", "oursFleet200"] as const).map((k) => ({
      section,
      measure: `same, this package, calls spread over ${FLEET_USERS.toLocaleString("en-US")} users, a handler attached per call, a replica at ${FLEET_CALLS_PER_SECOND} calls/s flushing every ${flushEvery(k)} calls (${k === "oursFleet" ? "the default 1 s interval" : "a 200 ms interval, the default before 2026-12"})`,
      value: `${fmt(m(k, "cpu"))} / ${fmt(m(k, "wall"))} µs`,
    })),
    { section, measure: "same, @langfuse/langchain handler (no exporter)", value: `${fmt(m("langfuse", "cpu"))} / ${fmt(m("langfuse", "wall"))} µs` },
    {
      section,
      measure: "this package over a no-op handler: CPU / wall per call",
      value: `${fmt(over("ours", "cpu"))} / ${fmt(over("ours", "wall"))} µs`,
      note: "target CPU ≤ 10 µs",
    },
    {
      section,
      measure: "this package, one record per commit, over a no-op handler: CPU / wall per call",
      value: `${fmt(over("oursEach", "cpu"))} / ${fmt(over("oursEach", "wall"))} µs`,
      note: "flush() waits for LangChain's callback queue, the writer and a commit of one record: a fixed cost per flush, not per record",
    },
    ...(["oursFleet", "oursFleet200"] as const).map((k) => ({
      section,
      measure: `this package, a fleet replica flushing every ${flushEvery(k)} calls, over a no-op handler: CPU / wall per call`,
      value: `${fmt(over(k, "cpu"))} / ${fmt(over(k, "wall"))} µs`,
      note: k === "oursFleet" ? "what a replica of a fleet pays: each record's commit and rollups touch pages no other record of its batch shares" : undefined,
    })),
    {
      section,
      measure: "Langfuse's handler over a no-op handler: CPU / wall per call",
      value: `${fmt(over("langfuse", "cpu"))} / ${fmt(over("langfuse", "wall"))} µs`,
    },
    {
      section,
      measure: "Langfuse's added CPU ÷ ours",
      value: `${fmt(over("langfuse", "cpu") / over("ours", "cpu"), 1)}×`,
      note: "target ≥ 5×",
    },
  ];
}

const childArgs = process.argv.slice(2);
if (childArgs[0] === "--whole-cost-child") {
  const [, kind, rounds, calls] = childArgs;
  if (!KINDS.includes(kind as Kind)) throw new Error(`whole cost: unknown kind ${kind}`);
  const result = await measureKindAlone(kind as Kind, Number(rounds), Number(calls));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
