/**
 * Summarises V8 `.cpuprofile` files (from `node --cpu-prof`): self time by function and by
 * source file, with GC, idle and program time shown apart, so a profile reads in a terminal.
 *
 *   npx tsx bench/cpu-profile-summary.ts <dir or file>... [--top 30]
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const top = topAt >= 0 ? Number(args[topAt + 1]) : 30;
const inputs = args.filter((_, i) => topAt < 0 || (i !== topAt && i !== topAt + 1));
const files = inputs.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(p, f)) : [p]));

function short(url: string): string {
  const i = url.indexOf("node_modules/");
  if (i >= 0) return url.slice(i + 13);
  const s = url.indexOf("/src/");
  if (s >= 0) return url.slice(s + 1);
  const b = url.indexOf("/bench/");
  return b >= 0 ? url.slice(b + 1) : url.replace(/^file:\/\//, "") || "(native)";
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => byId.get(id)?.callFrame.functionName === "(idle)").reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;
  const fns = new Map<string, number>();
  const urls = new Map<string, number>();
  for (const [id, t] of self) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === "(idle)") continue;
    const where = short(f.url);
    const key = `${f.functionName || "(anonymous)"}  ${where}${f.url ? `:${f.lineNumber + 1}` : ""}`;
    fns.set(key, (fns.get(key) ?? 0) + t);
    urls.set(where, (urls.get(where) ?? 0) + t);
  }
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  console.log(`\n== ${file}: ${(busy / 1000).toFixed(0)} ms busy, ${(idle / 1000).toFixed(0)} ms idle`);
  console.log("-- self time by function (share of busy time)");
  for (const [k, t] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
  console.log("-- self time by file");
  for (const [k, t] of [...urls].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(t)}  ${k}`);
}
