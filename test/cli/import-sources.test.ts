/**
 * `import` from what teams already have: the reference monitors' SQLite tables (in
 * exactly their schemas), other tools' column names, pretty-printed JSON, and the
 * rows it must refuse, each naming the row and the column (exit 2).
 */
import Database from "better-sqlite3";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import type { UsageRecord } from "../../src/record/types.js";
import { cliEnv, problemLines, runCli, tempDir } from "./run-cli.js";

const dir = tempDir("token-usage-import-");
let dbs = 0;

async function stored(db: string): Promise<UsageRecord[]> {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: db, env: {}, budget: false });
  try {
    return (await monitor.store.list({}, { limit: 10_000 })).sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  } finally {
    await monitor.close();
  }
}

async function catalogCost(provider: string, model: string, inputTokens: number, outputTokens: number): Promise<number> {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", env: {}, budget: false });
  try {
    return monitor.pricer.price({ inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, { model, provider, deployment: null, timestamp: "2026-01-01T00:00:00Z" }).totalCostNanos;
  } finally {
    await monitor.close();
  }
}

function target(): string {
  return join(dir, `target-${++dbs}.db`);
}

async function importInto(db: string, args: string[]) {
  const res = await runCli(["import", ...args, "--json"], cliEnv(db));
  return { ...res, body: res.stdout ? JSON.parse(res.stdout) : undefined };
}

/** The reference `token_usage` schema, verbatim. */
const TOKEN_USAGE_DDL = `CREATE TABLE token_usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    provider TEXT NOT NULL,
    service_type TEXT NOT NULL,
    model TEXT NOT NULL,
    operation TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    api_key_id TEXT NOT NULL,
    cost_usd REAL DEFAULT 0.0,
    metadata TEXT,
    error BOOLEAN DEFAULT FALSE,
    error_message TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP
)`;

/** The reference `api_usage` schema (migration version, with its UNIQUE and indexes), verbatim. */
const API_USAGE_DDL = `CREATE TABLE IF NOT EXISTS api_usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp DATETIME DEFAULT CURRENT_TIMESTAMP,
    model TEXT NOT NULL,
    feature TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    session_id TEXT,
    metadata JSON,
    UNIQUE(timestamp, feature, session_id)
);
CREATE INDEX IF NOT EXISTS idx_usage_timestamp ON api_usage(timestamp);
CREATE INDEX IF NOT EXISTS idx_usage_feature ON api_usage(feature);
CREATE INDEX IF NOT EXISTS idx_usage_date ON api_usage(DATE(timestamp));
CREATE INDEX IF NOT EXISTS idx_usage_model ON api_usage(model);`;

function sqliteFile(name: string, ddl: string, fill: (db: Database.Database) => void): string {
  const file = join(dir, name);
  const db = new Database(file);
  db.exec(ddl);
  fill(db);
  db.close();
  return file;
}

describe("SQLite usage tables, read from their files", () => {
  it("token_usage: provider, service type, operation, metadata, errors; the catalog prices known models, cost_usd the rest", async () => {
    const file = sqliteFile("graphiti.db", TOKEN_USAGE_DDL, (db) => {
      const insert = db.prepare(
        "INSERT INTO token_usage (timestamp, provider, service_type, model, operation, input_tokens, output_tokens, total_tokens, api_key_id, cost_usd, metadata, error, error_message) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
      );
      insert.run("2026-01-05T10:00:00.123456", "openai", "llm", "gpt-4o", "extract_nodes", 1000, 500, 1500, "key-1", 0.0075, JSON.stringify({ episode: "e1" }), 0, null);
      insert.run("2026-01-05T10:01:00", "openai_embed", "embedding", "text-embedding-3-small", "generate_embeddings", 800, 0, 800, "key-1", 0.000016, null, 0, null);
      insert.run("2026-01-05T10:02:00", "voyage", "reranking", "rerank-lite-1", "rerank", 300, 0, 300, "key-2", 0.00002, null, 0, null);
      insert.run("2026-01-05T10:03:00", "anthropic", "llm", "claude-3-5-haiku-20241022", "dedupe", 0, 0, 0, "key-2", 0, null, 1, "overloaded");
    });
    const db = target();
    const res = await importInto(db, [file]);
    expect(res.code).toBe(0);
    expect(res.body).toMatchObject({ format: "sqlite", rows: 4, inserted: 4, duplicates: 0, conflicts: 0 });
    const [chat, embed, rerank, failed] = await stored(db);
    expect(chat).toMatchObject({
      provider: "openai",
      model: "gpt-4o",
      operationType: "chat",
      timestamp: "2026-01-05T10:00:00.123Z",
      inputTokens: 1000,
      outputTokens: 500,
      dimensions: { operation: "extract_nodes", service_type: "llm" },
      requestMetadata: { episode: "e1" },
      priced: true,
    });
    expect(chat.totalCostNanos).toBe(await catalogCost("openai", "gpt-4o", 1000, 500));
    expect(embed).toMatchObject({ provider: "openai", operationType: "embedding", dimensions: { operation: "generate_embeddings", service_type: "embedding" } });
    // voyage is not in the catalog: the table's own cost is kept, and says so.
    expect(rerank).toMatchObject({ provider: "voyage", dimensions: { service_type: "reranking" }, totalCostNanos: 20_000, priced: true, priceSource: "import" });
    expect(failed).toMatchObject({ error: true, errorMessage: "overloaded" });
    // The integer ids of the source table are not record ids; importing again stores nothing twice.
    expect(chat.id).toMatch(/^import-[0-9a-f]{32}$/);
    expect((await importInto(db, [file])).body).toMatchObject({ inserted: 0, duplicates: 4, conflicts: 0 });
  });

  it("api_usage: feature as a dimension, session_id as thread, metadata as request metadata, provider from the model", async () => {
    const file = sqliteFile("api_usage.db", API_USAGE_DDL, (db) => {
      const insert = db.prepare("INSERT INTO api_usage (model, feature, prompt_tokens, completion_tokens, total_tokens, cost_usd, session_id, metadata, timestamp) VALUES (?,?,?,?,?,?,?,?,?)");
      insert.run("gpt-4o-mini", "chat", 2000, 100, 2100, 0.00036, "sess-1", JSON.stringify({ tools_count: 3, messages_count: 7 }), "2026-02-01 08:00:00");
      insert.run("gpt-4o", "introspection", 400, 50, 450, 0.0015, null, null, "2026-02-01 09:00:00");
      // The table's default: SQLite's CURRENT_TIMESTAMP, UTC without a zone.
      db.prepare("INSERT INTO api_usage (model, feature, prompt_tokens, completion_tokens, total_tokens, cost_usd) VALUES ('gpt-4o', 'decision', 10, 5, 15, 0.0001)").run();
    });
    const db = target();
    const res = await importInto(db, [file]);
    expect(res.code).toBe(0);
    expect(res.body).toMatchObject({ format: "sqlite", rows: 3, inserted: 3 });
    const records = await stored(db);
    const chat = records.find((r) => r.dimensions.feature === "chat")!;
    expect(chat).toMatchObject({ provider: "openai", model: "gpt-4o-mini", threadId: "sess-1", inputTokens: 2000, outputTokens: 100, timestamp: "2026-02-01T08:00:00.000Z", requestMetadata: { tools_count: 3, messages_count: 7 } });
    expect(records.find((r) => r.dimensions.feature === "introspection")).toMatchObject({ threadId: null, requestMetadata: {} });
    const recent = records.find((r) => r.dimensions.feature === "decision")!;
    expect(Math.abs(Date.parse(recent.timestamp) - Date.now())).toBeLessThan(120_000);
  });

  it("a file with both tables needs --table; --table picks one; a missing table is named", async () => {
    const file = sqliteFile("both.db", `${TOKEN_USAGE_DDL};\n${API_USAGE_DDL}`, (db) => {
      db.prepare("INSERT INTO api_usage (model, feature, prompt_tokens, completion_tokens, total_tokens, cost_usd, timestamp) VALUES ('gpt-4o', 'chat', 1, 1, 2, 0, '2026-03-01 00:00:00')").run();
    });
    const db = target();
    const ambiguous = await runCli(["import", file], cliEnv(db));
    expect(ambiguous.code).toBe(2);
    expect(problemLines(ambiguous.stderr)).toEqual([`token-usage: table: ${file} has both token_usage and api_usage: choose one with --table`]);
    expect((await importInto(db, [file, "--table", "api_usage"])).body).toMatchObject({ table: "api_usage", rows: 1, inserted: 1 });
    const missing = await runCli(["import", file, "--table", "usage; DROP TABLE api_usage"], cliEnv(db));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/table: "usage; DROP TABLE api_usage" is not a table of .* \(tables: api_usage, token_usage\)/);
  });
});

describe("other tools' column names", () => {
  it("time from timestamp, startTime or created_at: ISO, epoch seconds and epoch milliseconds", async () => {
    const file = join(dir, "times.json");
    writeFileSync(
      file,
      JSON.stringify([
        { startTime: "2026-01-05T10:00:00+02:00", model: "gpt-4o", provider: "openai", promptTokens: 1, completionTokens: 1 },
        { created_at: 1767607200, model: "gpt-4o", provider: "openai", input_tokens: 2, output_tokens: 1 },
        { timestamp: "1767607201", model: "gpt-4o", provider: "openai", input_tokens: 3, output_tokens: 1 },
        { timestamp: 1767607202500, model: "gpt-4o", provider: "openai", input_tokens: 4, output_tokens: 1 },
        { timestamp: "1767607203.25", model: "gpt-4o", provider: "openai", input_tokens: 5, output_tokens: 1 },
      ]),
    );
    const db = target();
    expect((await importInto(db, [file])).code).toBe(0);
    expect((await stored(db)).map((r) => [r.inputTokens, r.timestamp])).toEqual([
      [1, "2026-01-05T08:00:00.000Z"],
      [2, "2026-01-05T10:00:00.000Z"],
      [3, "2026-01-05T10:00:01.000Z"],
      [4, "2026-01-05T10:00:02.500Z"],
      [5, "2026-01-05T10:00:03.250Z"],
    ]);
  });

  it("a CSV from another tool: its time column is kept, the provider inferred, user, tokens and cost mapped", async () => {
    const file = join(dir, "langsmith-like.csv");
    writeFileSync(
      file,
      [
        "start_time,model_name,user,prompt_tokens,completion_tokens,total_cost",
        "2026-01-07T12:00:00Z,gpt-4o,alice,1000,500,0.0075",
        "2026-01-07T12:05:00Z,claude-3-5-haiku-20241022,bob,200,100,0.00056",
        "2026-01-07T12:06:00Z,gemini-2.0-flash,carol,100,10,0.00001",
        "2026-01-07T12:07:00Z,anthropic/claude-3-5-haiku-20241022,dave,10,10,0.00001",
      ].join("\n"),
    );
    const db = target();
    const res = await importInto(db, [file]);
    expect(res.code).toBe(0);
    const records = await stored(db);
    expect(records.map((r) => [r.timestamp, r.userId, r.provider, r.model, r.inputTokens, r.outputTokens])).toEqual([
      ["2026-01-07T12:00:00.000Z", "alice", "openai", "gpt-4o", 1000, 500],
      ["2026-01-07T12:05:00.000Z", "bob", "anthropic", "claude-3-5-haiku-20241022", 200, 100],
      ["2026-01-07T12:06:00.000Z", "carol", "google", "gemini-2.0-flash", 100, 10],
      ["2026-01-07T12:07:00.000Z", "dave", "anthropic", "anthropic/claude-3-5-haiku-20241022", 10, 10],
    ]);
    expect(records[0].totalCostNanos).toBe(await catalogCost("openai", "gpt-4o", 1000, 500));
  });

  it("an unknown model's cost column is kept, split by token share", async () => {
    const file = join(dir, "unknown-model.csv");
    writeFileSync(file, "timestamp,provider,model,input_tokens,output_tokens,cost_usd\n2026-01-08T00:00:00Z,acme-ai,mystery-2,300,100,0.004\n");
    const db = target();
    expect((await importInto(db, [file])).code).toBe(0);
    expect((await stored(db))[0]).toMatchObject({ priced: true, priceSource: "import", inputCostNanos: 3_000_000, outputCostNanos: 1_000_000, totalCostNanos: 4_000_000 });
  });

  it("a model served by many providers and no provider column: a row error naming the row", async () => {
    const file = join(dir, "llama.csv");
    writeFileSync(file, "timestamp,model,input_tokens,output_tokens\n2026-01-08T00:00:00Z,gpt-4o,1,1\n2026-01-08T00:00:01Z,llama-3.1-70b-instruct,1,1\n");
    const res = await runCli(["import", file], cliEnv(target()));
    expect(res.code).toBe(2);
    expect(problemLines(res.stderr)).toHaveLength(1);
    expect(res.stderr).toMatch(/token-usage: rows\[1\]\.provider: is missing and the model "llama-3\.1-70b-instruct" does not settle it .* \(line 3\)/);
  });
});

describe("JSON shapes", () => {
  it("a pretty-printed object, a pretty-printed array and an API page ({ records }) are read", async () => {
    const row = (n: number) => ({ timestamp: `2026-01-09T00:00:0${n}Z`, provider: "openai", model: "gpt-4o", input_tokens: n, output_tokens: 1 });
    const shapes: Array<[string, unknown, number]> = [
      ["object.json", row(1), 1],
      ["array.json", [row(2), row(3)], 2],
      ["page.json", { records: [row(4), row(5), row(6)], cursor: "abc" }, 3],
    ];
    for (const [name, value, count] of shapes) {
      const file = join(dir, name);
      writeFileSync(file, JSON.stringify(value, null, 2));
      const res = await importInto(target(), [file]);
      expect(res.code, name).toBe(0);
      expect(res.body, name).toMatchObject({ format: "json", rows: count, inserted: count });
    }
    // No extension and a UTF-8 byte order mark (as Windows tools write): still JSON.
    const bom = join(dir, "usage-export");
    writeFileSync(bom, `\uFEFF${JSON.stringify(row(7), null, 2)}`);
    expect((await importInto(target(), [bom])).body).toMatchObject({ format: "json", rows: 1, inserted: 1 });
  });
});

describe("rows that are refused (exit 2, one line naming the row and the column)", () => {
  const header = "timestamp,provider,model,input_tokens,output_tokens";
  const cases: Array<[string, string, RegExp]> = [
    ["user id that is an object", JSON.stringify([{ timestamp: "2026-01-01T00:00:00Z", provider: "openai", model: "gpt-4o", input_tokens: 1, output_tokens: 1, user_id: { name: "alice" } }]), /rows\[0\]\.user_id: must be a string, got an object/],
    ["camelCase userId that is an array", JSON.stringify([{ timestamp: "2026-01-01T00:00:00Z", provider: "openai", model: "gpt-4o", inputTokens: 1, outputTokens: 1, userId: ["a"] }]), /rows\[0\]\.userId: must be a string, got an array/],
    [
      "total_cost_nanos contradicting input + output",
      `${header},input_cost_nanos,output_cost_nanos,total_cost_nanos\n2026-01-01T00:00:00Z,openai,gpt-4o,1,1,100,200,999\n`,
      /rows\[0\]\.total_cost_nanos: 999 contradicts input_cost_nanos \+ output_cost_nanos \(100 \+ 200 = 300\) \(line 2\)/,
    ],
    ["no time at all", "provider,model,input_tokens,output_tokens\nopenai,gpt-4o,1,1\n", /rows\[0\]\.timestamp: is missing/],
    ["an 11-digit epoch", `${header}\n17676072000,openai,gpt-4o,1,1\n`, /rows\[0\]\.timestamp: "17676072000" is neither epoch seconds/],
    ["a year before 2000", `${header}\n1999-12-31T23:59:59Z,openai,gpt-4o,1,1\n`, /rows\[0\]\.timestamp: year 1999 is out of range/],
    ["metadata that is not an object", `${header},metadata\n2026-01-01T00:00:00Z,openai,gpt-4o,1,1,[1]\n`, /rows\[0\]\.metadata: must be a JSON object, got an array/],
    ["a ragged CSV line", `${header}\n2026-01-01T00:00:00Z,openai,gpt-4o,1\n`, /line 2: is not valid CSV/],
  ];
  for (const [name, content, message] of cases) {
    it(name, async () => {
      const file = join(dir, `refused-${name.replace(/\W+/g, "-")}.${content.startsWith("[") ? "json" : "csv"}`);
      writeFileSync(file, content);
      const db = target();
      const res = await runCli(["import", file], cliEnv(db));
      expect(res.code).toBe(2);
      expect(res.stdout).toBe("");
      expect(problemLines(res.stderr)).toHaveLength(1);
      expect(res.stderr).toMatch(message);
      expect(await stored(db)).toEqual([]);
    });
  }

  it("a missing, a directory and a non-database file: one line each, exit 2", async () => {
    const notDb = join(dir, "not-a-db.sqlite");
    writeFileSync(notDb, "hello, I am text");
    for (const [args, message] of [
      [[join(dir, "missing.csv")], `token-usage: file: cannot read ${join(dir, "missing.csv")}: no such file (ENOENT)`],
      [[dir], `token-usage: file: ${dir} is not a file`],
      [[notDb, "--format", "sqlite"], `token-usage: file: ${notDb} is not a readable SQLite database (file is not a database)`],
    ] as Array<[string[], string]>) {
      const res = await runCli(["import", ...args], cliEnv(target()));
      expect(res.code, args[0]).toBe(2);
      expect(problemLines(res.stderr), args[0]).toEqual([message]);
    }
  });
});

describe("duplicate ids", () => {
  const line = (id: string, tokens: number) => `${id},2026-01-10T00:00:00Z,openai,gpt-4o,${tokens},1`;
  const header = "id,timestamp,provider,model,input_tokens,output_tokens";

  it("the same id with other content in one file is a conflict, not 'already present'", async () => {
    const file = join(dir, "conflict-in-file.csv");
    writeFileSync(file, [header, line("a", 1), line("b", 2), line("a", 1), line("a", 99)].join("\n"));
    const db = target();
    const res = await importInto(db, [file]);
    expect(res.code).toBe(2);
    expect(res.body).toMatchObject({ rows: 4, inserted: 2, duplicates: 1, conflicts: 1, conflictingRows: [{ row: 3, where: "line 5", id: "a", with: { row: 0 } }] });
    expect(problemLines(res.stderr)).toEqual([expect.stringMatching(/^token-usage: rows\[3\]\.id: 1 row\(s\) reuse an id with different content .*rows\[3\] \(line 5\) id "a" differs from rows\[0\]/)]);
    expect((await stored(db)).find((r) => r.id === "a")!.inputTokens).toBe(1);
    const human = await runCli(["import", file], cliEnv(target()));
    expect(human.stdout).toContain("imported 2 records from");
    expect(human.stdout).toContain("(1 already present, 1 conflicting)");
    expect(human.stdout).toMatch(/conflict: rows\[3\] \(line 5\) id "a" differs from rows\[0\]/);
  });

  it("the same id with other content than the stored record is a conflict naming the fields; a true replay is a duplicate", async () => {
    const db = target();
    const first = join(dir, "first.csv");
    writeFileSync(first, [header, line("x", 10), line("y", 20)].join("\n"));
    expect((await importInto(db, [first])).body).toMatchObject({ inserted: 2 });
    const second = join(dir, "second.csv");
    writeFileSync(second, [header, line("x", 10), "y,2026-01-10T00:00:05Z,openai,gpt-4o,21,1", line("z", 30)].join("\n"));
    const res = await importInto(db, [second]);
    expect(res.code).toBe(2);
    expect(res.body).toMatchObject({ inserted: 1, duplicates: 1, conflicts: 1, conflictingRows: [{ row: 1, id: "y", with: "stored", fields: ["timestamp", "inputTokens"] }] });
    expect((await stored(db)).find((r) => r.id === "y")!.inputTokens).toBe(20);
  });
});
