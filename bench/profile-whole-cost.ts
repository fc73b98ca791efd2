/**
 * Profiling harness for the "whole cost" benchmark: runs only one kind, so a CPU profile
 * shows where tracking's time goes. The profile covers the measured rounds only (started
 * through the inspector after warm-up, so module loading and compilation stay out of it):
 *
 *   npx tsx bench/profile-whole-cost.ts [kind] [rounds] [--in-process] [--out .profiles]
 *   npx tsx bench/cpu-profile-summary.ts .profiles
 *
 * `--in-process` runs SQLite on the main thread (`sqliteWorker: false`), so the insert,
 * the rollups and the leaderboard tables show in the same profile as the rest (the
 * inspector session sees only its own thread).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { wholeCostBatch, wholeCostSetup } from "./whole-cost.js";

const args = process.argv.slice(2);
const positional = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--out");
const kind = (positional[0] ?? "ours") as "ours";
const rounds = Number(positional[1] ?? 60);
const inProcess = args.includes("--in-process");
const out = args.includes("--out") ? args[args.indexOf("--out") + 1] : ".profiles";
const setup = wholeCostSetup(undefined, inProcess ? { sqliteWorker: false } : {});
for (let r = 0; r < 10; r++) await wholeCostBatch(setup, kind, 200); // warm-up, not profiled
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 100 });
await session.post("Profiler.start");
let cpu = 0;
for (let r = 0; r < rounds; r++) cpu += (await wholeCostBatch(setup, kind, 200)).cpu;
const { profile } = await session.post("Profiler.stop");
session.disconnect();
mkdirSync(out, { recursive: true });
const file = join(out, `${kind}${inProcess ? "-in-process" : ""}-${Date.now()}.cpuprofile`);
writeFileSync(file, JSON.stringify(profile));
console.log(`${kind}: ${(cpu / rounds).toFixed(2)} µs CPU per call (mean over ${rounds} rounds), ${await setup.close()} records stored; profile in ${file}`);
