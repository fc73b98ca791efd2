import { beforeAll, describe, expect, it } from "vitest";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { cliEnv, problemLines, runCli, spawnCli, tempDir } from "./run-cli.js";

let env: NodeJS.ProcessEnv;
let db: string;
let demo: { records: number; users: string[]; totalCost: number };

beforeAll(async () => {
  db = join(tempDir(), "usage.db");
  env = cliEnv(db);
  const res = await runCli(["demo", "--json"], env);
  expect(res.code).toBe(0);
  demo = JSON.parse(res.stdout);
});

/** Totals read in-process from the same file, as an independent check of the CLI's numbers. */
async function library<T>(fn: (m: ReturnType<typeof createTokenMonitor>) => Promise<T>): Promise<T> {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: db, env: {} });
  try {
    return await fn(monitor);
  } finally {
    await monitor.close();
  }
}

describe("demo and summary", () => {
  it("demo seeds 84 records for three users; running it again adds nothing", async () => {
    expect(demo.records).toBe(84);
    expect(demo.users).toHaveLength(3);
    const again = await runCli(["demo", "--json"], env);
    expect(again.code).toBe(0);
    expect(await library((m) => m.getOverallUsage({ days: 30 }).then((s) => s.totalRequests))).toBe(84);
  });

  it("summary --json matches the library's totals", async () => {
    const res = await runCli(["summary", "--json", "--days", "30"], env);
    expect(res.code).toBe(0);
    const body = JSON.parse(res.stdout);
    const expected = await library((m) => m.getOverallUsage({ days: 30 }));
    expect(body.totalRequests).toBe(84);
    expect(body.totalCostNanos).toBe(expected.totalCostNanos);
    expect(body.totalCost).toBeCloseTo(demo.totalCost, 9);
  });

  it("summary --user narrows to one user", async () => {
    const res = await runCli(["summary", "--user", "alice@example.com", "--json"], env);
    const body = JSON.parse(res.stdout);
    const expected = await library((m) => m.getUserUsage("alice@example.com"));
    expect(body.userId).toBe("alice@example.com");
    expect(body.totalRequests).toBe(expected.totalRequests);
    expect(body.totalRequests).toBeGreaterThan(0);
    expect(body.totalRequests).toBeLessThan(84);
  });

  it("summary prints tables for people, without colour codes", async () => {
    const res = await runCli(["summary", "--days", "30"], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/│\s+84 │/);
    expect(res.stdout).toContain("gpt-4o-mini");
    expect(res.stdout).toContain("researcher");
    expect(res.stdout).not.toContain("\u001b[");
    expect(res.stderr).toBe(`database: ${db}\n`);
  });

  it("summary has a per-user table whose rows match the library's per-user totals", async () => {
    const res = await runCli(["summary", "--days", "30"], env);
    const users = await library((m) => m.getTopUsers({ days: 30 }));
    expect(users).toHaveLength(3);
    const userTable = res.stdout.slice(res.stdout.indexOf("│ User "));
    for (const u of users) {
      expect(userTable).toMatch(new RegExp(`│ ${u.key!.replace(".", "\\.")}\\s+│\\s+${u.totalRequests} │\\s+${u.totalTokens.toLocaleString("en-US")} │`));
    }
    const json = JSON.parse((await runCli(["summary", "--days", "30", "--json"], env)).stdout);
    expect(json.byUser.map((u: { userId: string; costNanos: number }) => [u.userId, u.costNanos])).toEqual(users.map((u) => [u.key, u.totalCostNanos]));
    expect(json.byUser.reduce((n: number, u: { requests: number }) => n + u.requests, 0)).toBe(84);
  });

  it("summary's header is in --time-zone, with the offset at each end", async () => {
    const range = ["--start", "2026-03-01T00:00:00Z", "--end", "2026-04-01T00:00:00Z"];
    const berlin = await runCli(["summary", ...range, "--time-zone", "Europe/Berlin"], env);
    expect(berlin.code).toBe(0);
    expect(berlin.stdout.split("\n")[0]).toBe("Usage from 2026-03-01 01:00 GMT+1 to 2026-04-01 02:00 GMT+2 (Europe/Berlin)");
    const utc = await runCli(["summary", ...range], env);
    expect(utc.stdout.split("\n")[0]).toBe("Usage from 2026-03-01 00:00 UTC to 2026-04-01 00:00 UTC (UTC)");
    const kolkata = await runCli(["summary", ...range, "--time-zone", "Asia/Kolkata", "--json"], env);
    expect(JSON.parse(kolkata.stdout).range).toEqual({ start: "2026-03-01T00:00:00.000Z", end: "2026-04-01T00:00:00.000Z", timeZone: "Asia/Kolkata" });
  });

  it("status --json gives today's and this month's usage", async () => {
    const res = await runCli(["status", "--json"], env);
    expect(res.code).toBe(0);
    const body = JSON.parse(res.stdout);
    expect(body.today.requests).toBeGreaterThan(0);
    expect(body.month.requests).toBeGreaterThanOrEqual(body.today.requests);
    expect(body.budgets).toEqual([]);
  });
});

describe("maintenance", () => {
  it("reprice is idempotent: nothing changes with the prices the records were made with", async () => {
    const res = await runCli(["reprice", "--json"], env);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ processed: 84, changed: 0 });
    expect(res.stderr).toBe(`database: ${db}\n`);
  });

  it("rebuild-rollups keeps every total", async () => {
    const before = await library((m) => m.getOverallUsage({ days: 30 }));
    const res = await runCli(["rebuild-rollups", "--json"], env);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).rebuilt).toBe(true);
    const after = await library((m) => m.getOverallUsage({ days: 30 }));
    expect(after.totalCostNanos).toBe(before.totalCostNanos);
    expect(after.totalTokens).toBe(before.totalTokens);
  });

  it("prune --before removes older records; without --before it is a usage error", async () => {
    const cut = new Date(Date.now() - 7 * 86_400_000).toISOString();
    const expected = await library((m) => m.getAllUsage({ start: "2000-01-01T00:00:00Z", end: cut, limit: 1000 }).then((p) => p.records.length));
    expect(expected).toBeGreaterThan(0);
    const res = await runCli(["prune", "--before", cut, "--json"], env);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ removed: expected });
    expect(await library((m) => m.getOverallUsage({ days: 30 }).then((s) => s.totalRequests))).toBe(84 - expected);
    const missing = await runCli(["prune"], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--before/);
  });
});

describe("API keys", () => {
  it("create prints the key once; list never shows it; revoke removes it", async () => {
    const created = await runCli(["keys", "create", "--user", "alice@example.com", "--label", "laptop", "--json"], env);
    expect(created.code).toBe(0);
    const { key, keyId, userId, last4 } = JSON.parse(created.stdout);
    expect(key).toMatch(/^tuk_[0-9a-f]{12}_/);
    expect(userId).toBe("alice@example.com");
    expect(key.endsWith(last4)).toBe(true);
    const list = await runCli(["keys", "list", "--json"], env);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ keyId, userId: "alice@example.com", last4, label: "laptop" })]);
    expect(list.stdout).not.toContain(key);
    const table = await runCli(["keys", "list"], env);
    expect(table.stdout).toContain(keyId);
    expect(table.stdout).not.toContain(key);
    expect((await runCli(["keys", "revoke", keyId], env)).code).toBe(0);
    const again = await runCli(["keys", "revoke", keyId], env);
    expect(again.code).toBe(2);
    expect(problemLines(again.stderr)).toHaveLength(1);
    expect((await runCli(["keys", "list", "--json"], env)).stdout.trim()).toBe("[]");
  });

  it("keys create without --user is a usage error", async () => {
    const res = await runCli(["keys", "create"], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--user/);
  });
});

describe("exit codes and messages", () => {
  const usage: string[][] = [
    ["summary", "--days", "x"],
    ["summary", "--time-zone", "Mars/Olympus"],
    ["summary", "--start", "2026-02-01", "--end", "2026-01-01"],
    ["no-such-command"],
    ["summary", "--no-such-flag"],
    ["set-limit", "global", "fortnightly-cost", "5"],
    ["set-limit", "global", "daily-cost", "-5"],
    ["export", "x.csv", "--format", "xml"],
  ];
  for (const args of usage) {
    it(`${args.join(" ")} exits 2 with one line on stderr`, async () => {
      const res = await runCli(args, env);
      expect(res.code).toBe(2);
      expect(res.stdout).toBe("");
      expect(res.stderr.trim().length).toBeGreaterThan(0);
      expect(problemLines(res.stderr).filter((l) => !l.startsWith("(run with")).length).toBe(1);
    });
  }

  it("a runtime failure exits 1", async () => {
    const dir = tempDir();
    const file = join(dir, "not-a-dir");
    writeFileSync(file, "x");
    const res = await runCli(["--db", join(file, "usage.db"), "summary"], env);
    expect(res.code).toBe(1);
    expect(problemLines(res.stderr)).toHaveLength(1);
  });

  it("set-limit, status and remove-limit go through the budget guard and its store", async () => {
    const set = await runCli(["set-limit", "user:alice@example.com", "monthly-cost", "25", "--json"], env);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ id: "user:alice@example.com:cost:month", scope: "user:alice@example.com", metric: "cost", amount: 25, period: "month", mode: "warn" });
    const status = JSON.parse((await runCli(["status", "--user", "alice@example.com", "--json"], env)).stdout);
    const month = await library((m) => m.getUserUsage("alice@example.com", { start: new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1)) }));
    expect(status.budgets).toEqual([expect.objectContaining({ limitId: "user:alice@example.com:cost:month", limit: 25 })]);
    expect(status.budgets[0].used).toBeCloseTo(month.totalCost, 9);
    expect((await runCli(["remove-limit", "user:alice@example.com:cost:month"], env)).code).toBe(0);
    const again = await runCli(["remove-limit", "user:alice@example.com:cost:month"], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/no budget limit/);
  });

  it("set-limit takes the configured mode, status without --user shows global usage, and status never claims alerts", async () => {
    const blockEnv = { ...env, BUDGET_ENFORCEMENT: "block" };
    const set = await runCli(["set-limit", "global", "daily-tokens", "10", "--id", "cli-global-day"], blockEnv);
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/mode block/);
    const limits = await library((m) => m.budget!.listLimits());
    expect(limits.find((l) => l.id === "cli-global-day")).toMatchObject({ mode: "block", amount: 10 });

    // The demo's usage of today is far past 10 tokens: the global row shows it.
    const today = await library((m) => m.getOverallUsage({ start: new Date(new Date().toISOString().slice(0, 10)) }));
    const status = JSON.parse((await runCli(["status", "--json"], env)).stdout);
    const row = status.budgets.find((b: { limitId: string }) => b.limitId === "cli-global-day");
    expect(row).toMatchObject({ scope: "global", limit: 10, used: today.totalTokens, state: "exceeded" });
    expect(row.fractionUsed).toBeGreaterThan(1);
    const text = await runCli(["status"], env);
    expect(text.stdout).toMatch(new RegExp(`cli-global-day.*${today.totalTokens}`));

    // Reading status (with and without --user) claimed none of the window's alerts: the application still gets them.
    await runCli(["status", "--user", "alice@example.com"], env);
    const windowStart = `${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`;
    expect(await library((m) => m.store.claimOnce("budget-alerts", `cli-global-day:${windowStart}:1`))).toBe(true);
    expect((await runCli(["remove-limit", "cli-global-day"], env)).code).toBe(0);
  });

  it("--help exits 0", async () => {
    const res = await runCli(["--help"], env);
    expect(res.code).toBe(0);
    for (const command of ["summary", "status", "set-limit", "remove-limit", "export", "import", "reprice", "rebuild-rollups", "prune", "serve", "demo", "keys"]) {
      expect(res.stdout).toContain(command);
    }
  });
});

describe("serve", () => {
  it("listens on loopback, answers /health and stops on SIGTERM", async () => {
    const child = spawnCli(["serve", "--port", "0"], env);
    let stdout = "";
    child.stdout!.on("data", (d) => (stdout += d));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL in: ${stdout}`)), 20_000);
      child.stdout!.on("data", () => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    try {
      expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: "ok", store: "sqlite" });
      expect((await fetch(`${url}/token-usage/summary`)).status).toBe(401);
    } finally {
      child.kill("SIGTERM");
    }
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
  });

  it("refuses a public host with no key configured (exit 2)", async () => {
    const res = await runCli(["serve", "--host", "0.0.0.0", "--port", "0"], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/refusing to listen on 0\.0\.0\.0/);
  });
});
