/**
 * What a change bought in one part of the whole cost, measured alone (steadier than the whole
 * on a shared machine), for earlier revisions of `src/` and the working tree, side by side:
 *
 *   npx tsx bench/compare-parts.ts append|worker-append|build|ingest <rev> [<rev>...] [--repeat 5]
 *
 * - `append`: an in-process `SqliteUsageStore.append` of 200-record batches shaped like the whole
 *   cost's (one user, thread and model; time-ordered UUIDv7 ids like LangChain's run ids): the
 *   insert, the rollups and leaderboard tables, the commit. CPU per record.
 * - `worker-append`: the same through `SqliteWorkerStore` (the rows, their message, the worker's
 *   append): CPU of both threads per record.
 * - `build`: the handler's deferred record build alone (attribution, validation, pricing,
 *   metadata sanitising and secret redaction), for records of real `invoke()` calls. CPU per record.
 * - `ingest`: the "SQLite ingest" section's dataset, its first 300,000 records (10,000 users, in
 *   time order, batches of 5,000) through an in-process store. CPU µs per record, as the figure
 *   least disturbed by other work on the machine (records per second = 1e6 / it, on an idle core).
 *
 * Each measurement is a child process of its own (revisions extracted as in compare-revisions.ts,
 * under `bench/.revisions/<rev>/`); the revisions take turns `--repeat` times; medians.
 */
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import { HumanMessage } from "@langchain/core/messages";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { v7 } from "uuid";
import { ScriptedChatModel } from "../examples/lib/scripted-chat-model.js";
import { makeRecord } from "../test/contract/make-record.js";
import { datasetChunks } from "./dataset.js";
import { fmt, median } from "./stats.js";

type Pkg = typeof import("../src/index.js");
const args = process.argv.slice(2);
const repeat = args.includes("--repeat") ? Number(args[args.indexOf("--repeat") + 1]) : 5;
const root = fileURLToPath(new URL("..", import.meta.url));
const self = fileURLToPath(import.meta.url);
const WORKING_TREE = "working-tree";

async function load(rev: string): Promise<Pkg> {
  const dir = rev === WORKING_TREE ? root : join(root, "bench", ".revisions", rev);
  if (rev !== WORKING_TREE && !existsSync(join(dir, "src"))) {
    mkdirSync(dir, { recursive: true });
    execFileSync("tar", ["-x", "-C", dir], { input: execFileSync("git", ["archive", rev, "src"], { cwd: root }) });
  }
  return (await import(pathToFileURL(join(dir, "src", "index.ts")).href)) as Pkg;
}

const cpuNow = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

async function appendPerRecord(pkg: Pkg, worker = false): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "tt-parts-"));
  const path = join(dir, "usage.db");
  const store = worker ? new pkg.SqliteWorkerStore({ path }) : new pkg.SqliteUsageStore({ path });
  const samples: number[] = [];
  // Timestamps rise across batches, as real calls' do: ranges that overlapped batch to batch
  // put every index insert in the middle of its tree, which cost about 2 µs more per record.
  let at = Date.now();
  for (let b = 0; b < 300; b++) {
    const records = Array.from({ length: 200 }, () =>
      makeRecord({ id: v7(), userId: "user-42", threadId: "thread-7", agentName: "bench", timestamp: new Date(at++).toISOString(), requestMetadata: { request_kind: "support" } }),
    );
    const c0 = cpuNow();
    await store.append(records);
    if (b >= 30) samples.push((cpuNow() - c0) / records.length);
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return median(samples);
}

async function ingestPerRecord(pkg: Pkg): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "tt-parts-"));
  const store = new pkg.SqliteUsageStore({ path: join(dir, "usage.db") });
  const total = 300_000;
  let cpu = 0;
  for (const chunk of datasetChunks({ total, users: 10_000, heavyShare: 0.2, endMs: Date.UTC(2026, 10, 1), days: 27 }, 5000)) {
    const c0 = cpuNow();
    await store.append(chunk);
    cpu += cpuNow() - c0;
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return cpu / total;
}

async function buildPerRecord(pkg: Pkg): Promise<number> {
  const deferred: Array<() => unknown> = [];
  const sink = { enqueue() {}, enqueueDeferred: (f: () => unknown) => void deferred.push(f) };
  const handler = new pkg.TokenTrackingCallbackHandler({ sink: sink as never, pricer: pkg.createPricer({}), agentName: "bench" });
  const config = { metadata: { user_id: "user-42", thread_id: "thread-7", request_kind: "support" }, callbacks: [handler] };
  const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
  const prompt = [new HumanMessage("What is the weather in Paris?")];
  const samples: number[] = [];
  for (let round = 0; round < 80; round++) {
    for (let i = 0; i < 200; i++) await model.invoke(prompt, config);
    await awaitAllCallbacks();
    const c0 = cpuNow();
    for (const build of deferred) build();
    if (round >= 20) samples.push((cpuNow() - c0) / deferred.length);
    deferred.length = 0;
  }
  return median(samples);
}

const part = args[0] === "--child" ? args[1] : args[0];
const PARTS: Record<string, (pkg: Pkg) => Promise<number>> = {
  append: (pkg) => appendPerRecord(pkg),
  "worker-append": (pkg) => appendPerRecord(pkg, true),
  build: buildPerRecord,
  ingest: ingestPerRecord,
};
if (!(part in PARTS)) throw new Error(`compare-parts: the first argument is one of ${Object.keys(PARTS).join(", ")}`);
if (args[0] === "--child") {
  const pkg = await load(args[2]);
  console.log(await PARTS[part](pkg));
  process.exit(0);
} else {
  const revs = [...args.slice(1).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--")), WORKING_TREE];
  for (const rev of revs) await load(rev);
  const results = new Map(revs.map((r) => [r, [] as number[]]));
  for (let n = 0; n < repeat; n++) {
    for (const rev of revs) {
      const out = execFileSync(process.execPath, [...process.execArgv, self, "--child", part, rev], { cwd: root, encoding: "utf8" });
      results.get(rev)!.push(Number(out.trim().split("\n").pop()));
    }
  }
  console.log(`${part}: CPU per record, median of ${repeat} alternating child processes`);
  for (const [rev, xs] of results) console.log(`${rev.padEnd(14)} ${fmt(median(xs))} µs   (per child: ${xs.map((x) => fmt(x)).join(", ")})`);
}
