/**
 * Profiling harness for the "whole cost" benchmark: runs only this package's kind, so a
 * CPU profile shows where tracking's time goes. Run it under the profiler, then summarise:
 *
 *   node --import tsx --cpu-prof --cpu-prof-dir=.profiles bench/profile-whole-cost.ts [kind] [rounds]
 *   npx tsx bench/cpu-profile-summary.ts .profiles
 *
 * (`--cpu-prof` also profiles the SQLite worker thread: one file per thread.)
 */
import { wholeCostBatch, wholeCostSetup } from "./whole-cost.js";

const kind = (process.argv[2] ?? "ours") as "ours";
const rounds = Number(process.argv[3] ?? 60);
const setup = wholeCostSetup();
let cpu = 0;
for (let r = 0; r < rounds; r++) cpu += (await wholeCostBatch(setup, kind, 200)).cpu;
console.log(`${kind}: ${(cpu / rounds).toFixed(2)} µs CPU per call (mean over ${rounds} rounds), ${await setup.close()} records stored`);
