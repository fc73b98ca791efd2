/**
 * Every example runs as a user would run it (a subprocess, `node --import tsx`),
 * offline, against its own temp SQLite file (TOKEN_USAGE_DB), exits 0 and prints
 * the figures it documents.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "examples-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  db: string;
}

/** The caller's own configuration must not leak into the examples (a real Cosmos account, budgets...). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(TOKEN_USAGE_|COSMOS_|BUDGET_|DAILY_|MONTHLY_|USAGE_TRACKING)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

function runExample(name: string): Promise<Run> {
  const db = join(work, `${name}.db`);
  const env = cleanEnv({ TOKEN_USAGE_DB: db, COST_TREND_PNG: join(work, "cost-trend.png") });
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", `examples/${name}.ts`], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, db });
    });
  });
}

const names = readdirSync(join(ROOT, "examples"))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .sort();

/** In the order of the tests below: each test starts its example and the next one, so two run at a time. */
const ORDER = [
  "basic-manual-tracking",
  "langgraph-agent-tracking",
  "per-user-statistics",
  "budget-monitoring",
  "cost-by-model",
  "cost-trend",
  "raw-records-paging",
  "optimization-recommendations",
  "cosmos-configuration",
  "demo-session",
];
const runs = new Map<string, Promise<Run>>();
const start = (name: string | undefined) => {
  if (name !== undefined && !runs.has(name)) runs.set(name, runExample(name));
};

async function run(name: string): Promise<Run> {
  start(name);
  start(ORDER[ORDER.indexOf(name) + 1]);
  const r = await runs.get(name)!;
  expect(r.code, `${name} exited with ${r.code}\n${r.stdout}\n${r.stderr}`).toBe(0);
  // SQLite examples wrote where they were told to, not into the default database.
  if (name !== "cosmos-configuration") expect(existsSync(r.db), `${name} did not use TOKEN_USAGE_DB`).toBe(true);
  return r;
}

const money = (text: string) => Number(text.replace("$", ""));

describe("examples", () => {
  it("covers every example file with a test below", () => {
    expect(names).toEqual([...ORDER].sort());
  });

  it("basic-manual-tracking: trackUsage with cached tokens and withTokenTracking", async () => {
    const { stdout } = await run("basic-manual-tracking");
    expect(stdout).toContain('withTokenTracking returned the response unchanged: "You said: hello"');
    expect(stdout).toMatch(/^alice: 2 calls, 2700 input \(1024 cached\) \+ 400 output tokens/m);
    // The raw OpenAI response's 640 prompt tokens, 512 of them cached, were read from `usage`.
    expect(stdout).toMatch(/^bob: 2 calls, 1540 input \(512 cached\) \+ 348 output tokens/m);
    expect(stdout).toMatch(/^Total: 4 calls, 4988 tokens, \$0\.\d+/m);
  });

  it("langgraph-agent-tracking: each agent step recorded with user, thread and agent", async () => {
    const { stdout } = await run("langgraph-agent-tracking");
    const records = stdout.split("\n").filter((l) => /alice {2}weather_agent {2}gpt-4o-mini/.test(l));
    expect(records).toHaveLength(4); // two questions, each a tool call and an answer
    expect(stdout).toMatch(/^Thread weather-chat: 4 model calls, \d+ tokens/m);
    expect(stdout).toContain('By agent: {"weather_agent":4}');
  });

  it("per-user-statistics: users, threads, and days that follow the time zone", async () => {
    const { stdout } = await run("per-user-statistics");
    expect(stdout).toMatch(/alice +3 calls +12650 tokens/);
    expect(stdout).toMatch(/bob +2 calls +2110 tokens/);
    expect(stdout).toMatch(/alice-trip +2 calls/);
    expect(stdout).toMatch(/^Top 2 users by cost: carol .*, alice /m);
    // The 23:30 UTC call moves to the next day in Tokyo.
    expect(stdout).toMatch(/^alice per day in UTC: \S+: 2 calls; \S+: 1 calls$/m);
    expect(stdout).toMatch(/^alice per day in Asia\/Tokyo: \S+: 1 calls; \S+: 2 calls$/m);
  });

  it("budget-monitoring: alerts at 80/95/100%, then a refused call that never reached the model", async () => {
    const { stdout } = await run("budget-monitoring");
    for (const level of ["warning", "critical", "exceeded"]) {
      expect(stdout.match(new RegExp(`ALERT ${level}: alice`, "g")), level).toHaveLength(1);
    }
    expect(stdout).toMatch(/refused with ERR_BUDGET_EXCEEDED: budget "user:alice:tokens:day"/);
    const allowed = stdout.match(/^call \d+: allowed/gm)?.length ?? 0;
    expect(allowed).toBeGreaterThanOrEqual(3);
    expect(stdout).toContain(`Recorded model calls of alice: ${allowed} `);
    expect(stdout).toMatch(/^Budget user:alice:tokens:day: exceeded, used \d+\/3000/m);
    expect(stdout).toContain("Limits that apply to bob: 0");
  });

  it("cost-by-model: overrides win, the unknown model is unpriced, totals add up", async () => {
    const { stdout } = await run("cost-by-model");
    // 10k plain input at $2/M + 10k cached at $1/M + 4k output at $8/M (the override).
    expect(stdout).toMatch(/openai\/gpt-4o +\$0\.062000 {2}priced from override/);
    expect(stdout).toMatch(/vllm\/llama-3-70b-internal +\$0\.043200 {2}priced from override/);
    expect(stdout).toMatch(/acme\/acme-mystery-1 +\$0\.000000 {2}UNPRICED/);
    const perCall = [...stdout.matchAll(/^\S+\/\S+ +(\$\d+\.\d+) {2}/gm)].map((m) => money(m[1]));
    expect(perCall).toHaveLength(6);
    const total = money(/^Total (\$\d+\.\d+) over 6 calls; 1 unpriced/m.exec(stdout)![1]);
    expect(total).toBeCloseTo(perCall.reduce((a, b) => a + b, 0), 6);
  });

  it("cost-trend: 14 days, weeks that add up, and a PNG chart", async () => {
    const { stdout } = await run("cost-trend");
    const [daily, weekly] = stdout.split("Cost per week").map((part) => [...part.matchAll(/^ {2}(\d{4}-\d{2}-\d{2}) .* \$[\d.]+ \((\d+) calls\)$/gm)]);
    expect(daily).toHaveLength(14);
    const calls = (rows: RegExpMatchArray[]) => rows.reduce((n, m) => n + Number(m[2]), 0);
    expect(weekly.length).toBeGreaterThanOrEqual(2);
    expect(calls(weekly)).toBe(calls(daily));
    const png = join(work, "cost-trend.png");
    if (existsSync("/usr/bin/chromium")) {
      expect(stdout).toContain(`Chart image written to ${png}`);
      expect(readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
      expect(statSync(png).size).toBeGreaterThan(5_000);
    } else {
      expect(stdout).toMatch(/No chart image: Chromium is not installed/);
    }
  });

  it("raw-records-paging: every record once, newest first, over three pages", async () => {
    const { stdout } = await run("raw-records-paging");
    expect(stdout).toContain("page 1: 10 records, call-22 .. call-13");
    expect(stdout).toContain("page 3: 3 records, call-02 .. call-00 (last page)");
    expect(stdout).toContain("Read 23 records in 3 pages, 23 distinct, newest first: true");
    expect(stdout).toMatch(/^Filtered to alice: 12 records/m);
  });

  it("optimization-recommendations: one suggestion of each kind", async () => {
    const { stdout } = await run("optimization-recommendations");
    for (const kind of ["cheaper-model", "low-cache-hit", "failed-calls", "agent-cost-growth", "unpriced-usage"]) {
      expect(stdout).toMatch(new RegExp(`^\\[(info|warning|critical)\\] ${kind}: `, "m"));
    }
    expect(stdout).toMatch(/cheaper-model: Try gpt-4o-mini for gpt-4o \(saves ~\$\d+\.\d\d\/month\)/);
  });

  it("cosmos-configuration: records and statistics through the local Cosmos stand-in", async () => {
    const { stdout } = await run("cosmos-configuration");
    expect(stdout).toMatch(/^Cosmos DB endpoint: http:\/\/127\.0\.0\.1:\d+ \(local in-process stand-in\)/m);
    expect(stdout).toMatch(/^alice: 3 calls, 6450 tokens \(1024 cached\)/m);
    expect(stdout).toMatch(/^bob: 1 calls, 3700 tokens/m);
    expect(stdout).toMatch(/^thread a-1: 2 calls/m);
  });

  it("demo-session: the main job writes to TOKEN_USAGE_DB", async () => {
    const { stdout, db } = await run("demo-session");
    expect(stdout).toContain(`Recorded this session into ${db}`);
    // 12 turns, each a tool call and an answer.
    expect(stdout).toMatch(/^All time in this database: 24 calls, \d+ tokens/m);
  });
});
