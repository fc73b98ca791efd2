/**
 * Hostile strings through every CLI argument that reaches a query: each is data (an
 * unknown user has zero usage) or a usage error (exit 2), and the database is intact.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { cliEnv, runCli, tempDir } from "./run-cli.js";

const HOSTILE = ["' OR 1=1 --", "x'; DROP TABLE usage_records; --", '" OR ""="', "🙂\u0000null", "a".repeat(1024)];

let env: NodeJS.ProcessEnv;
let db: string;

beforeAll(async () => {
  db = join(tempDir(), "usage.db");
  env = cliEnv(db);
  expect((await runCli(["demo", "--json"], env)).code).toBe(0);
});

async function recordCount(): Promise<number> {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: db, env: {}, budget: false });
  try {
    return (await monitor.getOverallUsage({ days: 3650 })).totalRequests;
  } finally {
    await monitor.close();
  }
}

describe("hostile CLI arguments", () => {
  it("user ids are data: zero usage, exit 0, nothing changed", async () => {
    for (const user of HOSTILE.filter((h) => !h.includes("\u0000"))) {
      const res = await runCli(["summary", "--user", user, "--json"], env);
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toMatchObject({ userId: user, totalRequests: 0 });
    }
    expect(await recordCount()).toBe(84);
  });

  it("dates and numbers are validated: a usage error naming the option, nothing changed", async () => {
    for (const args of [
      ["summary", "--days", "1; DROP TABLE usage_records"],
      ["export", "-", "--start", "' OR '1'='1"],
      ["prune", "--before", "2026-01-01' OR '1'='1"],
    ]) {
      const res = await runCli(args, env);
      expect(res.code).toBe(2);
      expect(res.stderr.length).toBeGreaterThan(0);
    }
    expect(await recordCount()).toBe(84);
  });

  it("limit ids are validated, status and key owners take any user id as data", async () => {
    // A limit id is built from the scope and must stay a plain name: refused with exit 2.
    const set = await runCli(["set-limit", `user:${HOSTILE[1]}`, "daily-tokens", "1000", "--json"], env);
    expect(set.code).toBe(2);
    expect(set.stderr).toMatch(/id: must be/);
    const status = await runCli(["status", "--user", HOSTILE[1], "--json"], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ userId: HOSTILE[1], today: { requests: 0 } });
    const key = await runCli(["keys", "create", "--user", HOSTILE[0], "--json"], env);
    expect(key.code).toBe(0);
    const listed = await runCli(["keys", "list", "--json"], env);
    expect(listed.stdout).toContain(JSON.stringify(HOSTILE[0]).slice(1, -1));
    expect(await recordCount()).toBe(84);
  });
});
