/**
 * What the CLI writes where: the database line and the new-file warning on stderr
 * (stdout stays JSON), and a reader that closes the pipe early ends the command quietly.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI_ARGV, cliEnv, runCli, runNode, tempDir } from "./run-cli.js";

let db: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  db = join(tempDir(), "usage.db");
  env = cliEnv(db);
  expect((await runCli(["demo", "--json"], env)).code).toBe(0);
});

describe("which database", () => {
  it("every command names the file on stderr; stdout stays machine-readable", async () => {
    const file = join(tempDir(), "export.json");
    const commands = [
      ["summary", "--json"],
      ["status", "--json"],
      ["export", file, "--json"],
      ["import", file, "--json"],
      ["reprice", "--json"],
      ["rebuild-rollups", "--json"],
      ["prune", "--before", "2001-01-01", "--json"],
      ["keys", "list", "--json"],
      ["demo", "--json"],
    ];
    for (const args of commands) {
      const res = await runCli(args, env);
      expect(res.code, args.join(" ")).toBe(0);
      expect(res.stderr, args.join(" ")).toBe(`database: ${db}\n`);
      expect(() => JSON.parse(res.stdout), args.join(" ")).not.toThrow();
    }
  });

  it("--db wins over TOKEN_USAGE_DB and is the file named", async () => {
    const res = await runCli(["--db", db, "summary", "--json"], cliEnv(join(tempDir(), "other.db")));
    expect(res.stderr).toBe(`database: ${db}\n`);
    expect(JSON.parse(res.stdout).totalRequests).toBe(84);
  });

  it("run from another folder: warns that the default file did not exist, once", async () => {
    const cwd = realpathSync(tempDir());
    const bare = cliEnv("");
    delete bare.TOKEN_USAGE_DB;
    const expected = join(cwd, ".token-usage", "usage.db");
    const first = await runCli(["summary"], bare, { cwd });
    expect(first.code).toBe(0);
    const lines = first.stderr.trim().split("\n");
    expect(lines[0]).toBe(`database: ${expected}`);
    expect(lines[1]).toMatch(new RegExp(`^warning: ${expected.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} did not exist.*--db`));
    expect(lines).toHaveLength(2);
    expect(first.stdout).toContain("No usage");
    expect(existsSync(expected)).toBe(true);
    const second = await runCli(["summary", "--json"], bare, { cwd });
    expect(second.stderr).toBe(`database: ${expected}\n`);
    expect(JSON.parse(second.stdout).totalRequests).toBe(0);
  });

  it("a file that did not exist is warned about even with --json, on stderr only", async () => {
    const fresh = join(tempDir(), "fresh.db");
    const res = await runCli(["status", "--json"], cliEnv(fresh));
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/^database: .*fresh\.db\nwarning: .*fresh\.db did not exist/);
    expect(JSON.parse(res.stdout).today.requests).toBe(0);
  });
});

describe("a closed pipe", () => {
  it("summary --json into a reader that already left: exit 0, no stack trace", async () => {
    const child = spawn(process.execPath, [...CLI_ARGV, "summary", "--json"], { env, stdio: ["ignore", "pipe", "pipe"] });
    // Close our end before the child writes: its first write fails with EPIPE.
    child.stdout!.destroy();
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const [code] = await once(child, "exit");
    expect(stderr).toBe(`database: ${db}\n`);
    expect(code).toBe(0);
  });

  it("summary --json | head -c 10 in a shell prints 10 bytes and no error", async () => {
    const script = `"${process.execPath}" ${CLI_ARGV.map((a) => `"${a}"`).join(" ")} summary --json --days 30 | head -c 10; echo " status=\${PIPESTATUS[0]}"`;
    const res = await runNode(["-e", `require("child_process").execFileSync("bash", ["-c", ${JSON.stringify(script)}], { stdio: "inherit" })`], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^\{\n {2}"total status=0\n$/);
    expect(res.stderr).toBe(`database: ${db}\n`);
  });
});
