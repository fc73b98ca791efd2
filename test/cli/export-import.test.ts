import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import type { UsageRecord } from "../../src/record/types.js";
import { createProgress } from "../../src/cli/progress.js";
import { cliEnv, problemLines, runCli, tempDir } from "./run-cli.js";

const dir = tempDir();
const sourceDb = join(dir, "source.db");
let originals: UsageRecord[];

async function allRecords(db: string): Promise<UsageRecord[]> {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: db, env: {} });
  try {
    const records = await monitor.store.list({}, { limit: 100_000 });
    return records.sort((a, b) => a.id.localeCompare(b.id));
  } finally {
    await monitor.close();
  }
}

beforeAll(async () => {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: sourceDb, env: {} });
  const now = Date.now();
  const inputs = [
    { id: "plain", userId: "alice", provider: "openai", model: "gpt-4o", inputTokens: 1200, outputTokens: 340, timestamp: new Date(now - 3_600_000) },
    {
      id: "rich",
      userId: "bob",
      threadId: "thread, with \"quotes\"\nand a newline",
      agentName: "researcher",
      provider: "azure_openai",
      model: "gpt-4o-mini",
      deployment: "prod-mini",
      inputTokens: 5000,
      outputTokens: 900,
      cacheReadTokens: 1000,
      cacheWriteTokens: 200,
      reasoningTokens: 300,
      latencyMs: 812.5,
      runId: "run-1",
      parentRunId: "run-0",
      tags: ["a", "b,c"],
      dimensions: { tenant: "acme", feature: "search" },
      metadata: { region: "eu", nested: { n: 1 } },
      estimated: true,
      timestamp: new Date(now - 86_400_000),
    },
    { id: "cached", userId: "alice", provider: "anthropic", model: "claude-3-5-haiku-20241022", inputTokens: 10, outputTokens: 10, cached: true, timestamp: new Date(now - 2 * 86_400_000) },
    { id: "failed", userId: "carol", provider: "openai", model: "gpt-4o", inputTokens: 50, outputTokens: 0, error: true, errorMessage: "rate limited", operation: "llm" as const, timestamp: new Date(now - 40 * 86_400_000) },
    { id: "unpriced", userId: "carol", provider: "acme-ai", model: "mystery-1", inputTokens: 7, outputTokens: 3, operation: "embedding" as const, timestamp: new Date(now - 5000) },
  ];
  for (const input of inputs) await monitor.trackUsage(input);
  await monitor.flush();
  // A record priced under an older price list: the export must carry its cost as stored.
  const old = await monitor.trackUsage({ id: "old-price", userId: "dave", provider: "openai", model: "gpt-4o", inputTokens: 100, outputTokens: 100, timestamp: new Date(now - 10_000) });
  await monitor.flush();
  await monitor.store.updateCosts([{ id: old.id, userId: old.userId, inputCostNanos: 123, outputCostNanos: 456, totalCostNanos: 579, priced: true, priceSource: "override" }]);
  await monitor.close();
  originals = await allRecords(sourceDb);
});

describe("export then import round-trips records exactly", () => {
  for (const format of ["csv", "json"] as const) {
    it(format, async () => {
      const file = join(dir, `out.${format}`);
      const exported = await runCli(["export", file, "--json"], cliEnv(sourceDb));
      expect(exported.code).toBe(0);
      expect(JSON.parse(exported.stdout)).toEqual({ file, format, records: 6 });
      expect(exported.stderr).toBe(`database: ${sourceDb}\n`); // no progress bar when stderr is not a terminal
      const targetDb = join(dir, `target-${format}.db`);
      const imported = await runCli(["import", file, "--json"], cliEnv(targetDb));
      expect(imported.code).toBe(0);
      expect(JSON.parse(imported.stdout)).toMatchObject({ rows: 6, inserted: 6, duplicates: 0 });
      expect(imported.stderr).toMatch(/^database: .*\nwarning: .* did not exist: [^\n]*\n$/);
      const copies = await allRecords(targetDb);
      expect(copies).toEqual(originals);
      expect(copies.find((r) => r.id === "old-price")!.totalCostNanos).toBe(579);
      const again = await runCli(["import", file, "--json"], cliEnv(targetDb));
      expect(JSON.parse(again.stdout)).toMatchObject({ inserted: 0, duplicates: 6 });
    });
  }

  it("--start/--end select records, and `-` writes to stdout", async () => {
    const start = new Date(Date.now() - 2 * 3_600_000).toISOString();
    const res = await runCli(["export", "-", "--start", start], cliEnv(sourceDb));
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split("\n");
    expect(lines[0].startsWith("id,user_id,")).toBe(true);
    expect(lines.slice(1).map((l) => l.split(",")[0]).sort()).toEqual(["old-price", "plain", "unpriced"]);
  });
});

describe("import from other tools", () => {
  it("reads the reference monitors' columns and prices them with the catalog", async () => {
    const file = join(dir, "legacy.csv");
    writeFileSync(
      file,
      [
        "timestamp,provider,model,input_tokens,output_tokens,user_id",
        "2026-01-05 10:00:00,openai,gpt-4o,1000,500,alice",
        "2026-01-06T11:30:00Z,openai,gpt-4o-mini,2000,100,",
      ].join("\n"),
    );
    const db = join(dir, "legacy.db");
    const res = await runCli(["import", file, "--json"], cliEnv(db));
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ rows: 2, inserted: 2 });
    const records = await allRecords(db);
    const first = records.find((r) => r.model === "gpt-4o")!;
    expect(first.timestamp).toBe("2026-01-05T10:00:00.000Z");
    expect(first.userId).toBe("alice");
    expect(first.totalCostNanos).toBe(7_500_000); // 1000 x $2.50/M + 500 x $10/M
    expect(records.find((r) => r.model === "gpt-4o-mini")!.userId).toBe("anonymous");
    // Rows without ids get ids from their content: importing again adds nothing.
    expect(JSON.parse((await runCli(["import", file, "--json"], cliEnv(db))).stdout)).toMatchObject({ inserted: 0, duplicates: 2 });
  });

  it("reads prompt/completion token names and NDJSON", async () => {
    const file = join(dir, "legacy.ndjson");
    writeFileSync(file, `${JSON.stringify({ timestamp: "2026-02-01T00:00:00Z", model: "gpt-4o", provider: "openai", prompt_tokens: 10, completion_tokens: 5, session_id: "s1", feature: "chat" })}\n`);
    const db = join(dir, "ndjson.db");
    expect((await runCli(["import", file], cliEnv(db))).code).toBe(0);
    const [record] = await allRecords(db);
    expect(record).toMatchObject({ inputTokens: 10, outputTokens: 5, threadId: "s1", dimensions: { feature: "chat" } });
  });

  it("a bad row is a usage error naming the row and field", async () => {
    const file = join(dir, "bad.csv");
    writeFileSync(file, "time,provider,model,prompt_tokens,output_tokens\n2026-01-01T00:00:00Z,openai,gpt-4o,10,5\n2026-01-01T00:00:01Z,openai,gpt-4o,ten,5\n");
    const res = await runCli(["import", file], cliEnv(join(dir, "bad.db")));
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/rows\[1\]\.prompt_tokens: must be a non-negative integer, got "ten"/);
    expect(res.stderr).toMatch(/line 3/);
    expect(problemLines(res.stderr)).toHaveLength(1);
  });

  it("a missing file is bad input: one line, exit 2, no database opened", async () => {
    const res = await runCli(["import", join(dir, "nope.csv")], cliEnv(join(dir, "x.db")));
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`token-usage: file: cannot read ${join(dir, "nope.csv")}: no such file (ENOENT)\n`);
  });
});

describe("progress bars", () => {
  it("draw only on a terminal", () => {
    const written: string[] = [];
    const stream = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
    (stream as unknown as PassThrough).on("data", (d) => written.push(String(d)));
    const quiet = createProgress("export", 10, stream);
    quiet.update(5);
    quiet.stop();
    expect(written.join("")).toBe("");
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 80, cursorTo: () => true, clearLine: () => true, moveCursor: () => true }) as unknown as NodeJS.WriteStream;
    const seen: string[] = [];
    (tty as unknown as PassThrough).on("data", (d) => seen.push(String(d)));
    const bar = createProgress("export", 10, tty);
    bar.update(10);
    bar.stop();
    expect(seen.join("")).toContain("export");
  });
});

afterAll(() => {
  expect(readFileSync(join(dir, "out.csv"), "utf8").length).toBeGreaterThan(0);
});
