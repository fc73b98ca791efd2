// Dependency audit of the runtime dependencies (`npm audit --omit=dev`): fails on any
// known high or critical advisory. When the registry offers no audit service (some
// mirrors answer 405), it says so plainly and does not fail: nothing was checked.
import { spawnSync } from "node:child_process";

const run = spawnSync("npm", ["audit", "--omit=dev", "--json"], { encoding: "utf8" });
let report;
try {
  report = JSON.parse(run.stdout || "{}");
} catch {
  report = { error: { summary: (run.stderr || "no output").trim().split("\n").pop() } };
}
// A failed request comes back as an error object, or (npm 11) as the HTTP response itself.
const failure = report.message || report.error?.summary || report.error?.code || (report.error ? "unknown error" : undefined);
if (failure !== undefined || !report.metadata) {
  console.log(`dependency audit: not run, the registry's audit service did not answer (${failure ?? "no report"})`);
  process.exit(0);
}
const counts = report.metadata?.vulnerabilities ?? {};
const serious = (counts.high ?? 0) + (counts.critical ?? 0);
console.log(`dependency audit (runtime dependencies): ${JSON.stringify(counts)}`);
if (serious > 0) {
  for (const [name, v] of Object.entries(report.vulnerabilities ?? {})) {
    if (v.severity === "high" || v.severity === "critical") console.error(`  ${v.severity}: ${name} (${v.range})`);
  }
  process.exit(1);
}
