/**
 * What a change bought, measured in one run: the "whole cost" of tracking a call (see
 * whole-cost.ts) for this working tree and for earlier revisions of `src/`, loaded side by
 * side in one process and interleaved round by round with a no-op handler, so every revision
 * sees the same machine load.
 *
 *   npx tsx bench/compare-revisions.ts <rev> [<rev>...] [--rounds 30]
 *
 * Each revision's `src/` is extracted (git archive) under `bench/.revisions/<rev>/`, inside the
 * project so it resolves the same node_modules. Prints CPU (all threads) and wall per call.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { fmt, median } from "./stats.js";
import { type PackageEntry, type WholeCostSetup, wholeCostBatch, wholeCostSetup } from "./whole-cost.js";

const args = process.argv.slice(2);
const roundsAt = args.indexOf("--rounds");
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 30;
const revs = args.filter((a, i) => !a.startsWith("--") && (roundsAt < 0 || i !== roundsAt + 1));
const root = fileURLToPath(new URL("..", import.meta.url));

async function load(rev: string): Promise<PackageEntry> {
  const dir = join(root, "bench", ".revisions", rev);
  if (!existsSync(join(dir, "src"))) {
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync("git", ["archive", rev, "src"], { cwd: root });
    execFileSync("tar", ["-x", "-C", dir], { input: tar });
  }
  return (await import(pathToFileURL(join(dir, "src", "index.ts")).href)) as PackageEntry;
}

const variants: Array<{ name: string; setup: WholeCostSetup; kind: "ours" | "noop" }> = [];
const base = wholeCostSetup();
variants.push({ name: "no-op handler", setup: base, kind: "noop" });
for (const rev of revs) variants.push({ name: rev, setup: wholeCostSetup(await load(rev)), kind: "ours" });
variants.push({ name: "working tree", setup: base, kind: "ours" });

const samples = variants.map(() => ({ cpu: [] as number[], wall: [] as number[] }));
for (let round = 0; round < rounds + 5; round++) {
  for (let k = 0; k < variants.length; k++) {
    const i = (round + k) % variants.length;
    const r = await wholeCostBatch(variants[i].setup, variants[i].kind, 200);
    if (round >= 5) {
      samples[i].cpu.push(r.cpu);
      samples[i].wall.push(r.wall);
    }
  }
}
const noop = { cpu: median(samples[0].cpu), wall: median(samples[0].wall) };
console.log(`${rounds} interleaved rounds of 200 calls; medians per call, CPU over all threads / wall`);
variants.forEach((v, i) => {
  const cpu = median(samples[i].cpu);
  const wall = median(samples[i].wall);
  const over = i === 0 ? "" : `   over no-op: ${fmt(cpu - noop.cpu)} / ${fmt(wall - noop.wall)} µs`;
  console.log(`${v.name.padEnd(14)} ${fmt(cpu)} / ${fmt(wall)} µs${over}`);
});
for (const v of new Set(variants.map((x) => x.setup))) await v.close();
