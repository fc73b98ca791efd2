/**
 * What a change bought: the "whole cost" of tracking a call (see whole-cost.ts) for earlier
 * revisions of `src/` and for the working tree, in one run of this command.
 *
 *   npx tsx bench/compare-revisions.ts <rev> [<rev>...] [--repeat 3] [--rounds 60]
 *
 * Each revision's `src/` is extracted (git archive) under `bench/.revisions/<rev>/`, inside the
 * project so it resolves the same node_modules. Each measurement is a child process of its own
 * (a revision's garbage and its SQLite worker must not be charged to another), running that
 * revision and a no-op handler interleaved round by round; the revisions take turns, `--repeat`
 * times, so all see the same machine load. Prints the added CPU (all threads) and wall per call
 * over the no-op handler: the median of each child's medians.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { fmt, median } from "./stats.js";
import { type PackageEntry, wholeCostBatch, wholeCostSetup } from "./whole-cost.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const rounds = option("--rounds", 60);
const repeat = option("--repeat", 3);
const root = fileURLToPath(new URL("..", import.meta.url));
const self = fileURLToPath(import.meta.url);
const WORKING_TREE = "working-tree";

async function load(rev: string): Promise<PackageEntry | undefined> {
  if (rev === WORKING_TREE) return undefined; // whole-cost.ts's own import of ../src
  const dir = join(root, "bench", ".revisions", rev);
  if (!existsSync(join(dir, "src"))) {
    mkdirSync(dir, { recursive: true });
    execFileSync("tar", ["-x", "-C", dir], { input: execFileSync("git", ["archive", rev, "src"], { cwd: root }) });
  }
  return (await import(pathToFileURL(join(dir, "src", "index.ts")).href)) as PackageEntry;
}

/** One child: this revision and a no-op handler, interleaved; prints the added cost as JSON. */
async function child(rev: string): Promise<void> {
  const setup = wholeCostSetup(await load(rev));
  const ours = { cpu: [] as number[], wall: [] as number[] };
  const noop = { cpu: [] as number[], wall: [] as number[] };
  for (let round = 0; round < rounds + 10; round++) {
    const pair = round % 2 ? (["ours", "noop"] as const) : (["noop", "ours"] as const);
    for (const kind of pair) {
      const r = await wholeCostBatch(setup, kind, 200);
      if (round < 10) continue; // warm-up
      (kind === "ours" ? ours : noop).cpu.push(r.cpu);
      (kind === "ours" ? ours : noop).wall.push(r.wall);
    }
  }
  await setup.close();
  console.log(JSON.stringify({ cpu: median(ours.cpu) - median(noop.cpu), wall: median(ours.wall) - median(noop.wall) }));
}

if (args[0] === "--child") {
  await child(args[1]);
} else {
  const revs = [...args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--")), WORKING_TREE];
  for (const rev of revs) await load(rev); // extract once, before timing anything
  const added = new Map(revs.map((r) => [r, { cpu: [] as number[], wall: [] as number[] }]));
  for (let n = 0; n < repeat; n++) {
    for (const rev of revs) {
      const out = execFileSync(process.execPath, [...process.execArgv, self, "--child", rev, "--rounds", String(rounds)], { cwd: root, encoding: "utf8" });
      const r = JSON.parse(out.trim().split("\n").pop()!) as { cpu: number; wall: number };
      added.get(rev)!.cpu.push(r.cpu);
      added.get(rev)!.wall.push(r.wall);
    }
  }
  console.log(`added per call over a no-op handler, CPU (all threads) / wall; ${repeat} alternating child processes of ${rounds} rounds × 200 calls each`);
  for (const [rev, a] of added) {
    console.log(`${rev.padEnd(14)} ${fmt(median(a.cpu))} / ${fmt(median(a.wall))} µs   (CPU per child: ${a.cpu.map((x) => fmt(x, 1)).join(", ")})`);
  }
}
