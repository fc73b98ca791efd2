/**
 * What the raw insert of a record costs in the store's own schema, and what each part of its
 * layout adds: the three secondary indexes one at a time and together, the commit of a
 * 200-record batch (against one transaction for everything), and the pragmas a commit could be
 * cheapened with (`synchronous = OFF`, `locking_mode = EXCLUSIVE`). Rollups are left out (see
 * `compare-parts.ts append` for the whole append):
 *
 *   npx tsx bench/insert-layout.ts [--repeat 3] [--only variant,variant]
 *
 * Each variant is a child process of its own (a fresh database, 50 warm-up batches, then 300
 * batches of 200 one-user records with time-ordered UUIDv7 ids, like the whole cost's); the
 * variants take turns `--repeat` times; CPU µs per record, medians.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { v7 } from "uuid";
import { makeRecord } from "../test/contract/make-record.js";
import { openDatabase } from "../src/stores/sqlite/sqlite-connection.js";
import { RECORD_COLUMNS, recordToValues } from "../src/stores/sqlite/rows.js";
import { fmt, median } from "./stats.js";

const ALL_VARIANTS: Record<string, string> = {
  schema: "the store's schema (id key and three indexes), a commit per 200 records",
  "no-ts-index": "without idx_usage_ts",
  "no-thread-index": "without idx_usage_thread_ts",
  "no-user-index": "without idx_usage_user_ts",
  "no-secondary-index": "without the three secondary indexes (id key only)",
  "one-commit": "all batches in one transaction (what the commits cost)",
  "synchronous-off": "synchronous = OFF (instead of NORMAL)",
  "exclusive-lock": "locking_mode = EXCLUSIVE",
  "multi-row-25": "25 rows per INSERT statement, RETURNING the ids inserted",
  "multi-row-50": "50 rows per INSERT statement, RETURNING the ids inserted",
  "multi-row-25-changes": "25 rows per INSERT statement, counting changes only",
  "array-bind": "each row bound as one array argument instead of spread into 36 arguments",
};
// `--only a,b` runs some of the variants.
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1].split(",") : undefined;
const VARIANTS = Object.fromEntries(Object.entries(ALL_VARIANTS).filter(([v]) => v === "schema" || !only || only.includes(v)));
const BATCHES = 300;
const SIZE = 200;

function child(variant: string): number {
  const dir = mkdtempSync(join(tmpdir(), "insert-layout-"));
  const db = openDatabase(join(dir, "usage.db"), 100);
  try {
    if (variant === "no-ts-index" || variant === "no-secondary-index") db.exec("DROP INDEX idx_usage_ts");
    if (variant === "no-thread-index" || variant === "no-secondary-index") db.exec("DROP INDEX idx_usage_thread_ts");
    if (variant === "no-user-index" || variant === "no-secondary-index") db.exec("DROP INDEX idx_usage_user_ts");
    if (variant === "synchronous-off") db.pragma("synchronous = OFF");
    if (variant === "exclusive-lock") db.pragma("locking_mode = EXCLUSIVE");
    const insert = db.prepare(`INSERT INTO usage_records VALUES (${"?, ".repeat(RECORD_COLUMNS - 1)}?) ON CONFLICT (id) DO NOTHING`);
    const per = variant.startsWith("multi-row-") ? Number(variant.split("-")[2]) : 1;
    const row = `(${"?, ".repeat(RECORD_COLUMNS - 1)}?)`;
    const multi = db.prepare(`INSERT INTO usage_records VALUES ${Array(per).fill(row).join(", ")} ON CONFLICT (id) DO NOTHING RETURNING id`).raw();
    const plain = db.prepare(`INSERT INTO usage_records VALUES ${Array(per).fill(row).join(", ")} ON CONFLICT (id) DO NOTHING`);
    let inserted = 0;
    const tx = db.transaction((rows: unknown[][]) => {
      if (per === 1) {
        if (variant === "array-bind") for (const row of rows) inserted += insert.run(row).changes;
        else for (const row of rows) inserted += insert.run(...row).changes;
        return;
      }
      // Batches are whole multiples of `per` here; the store would finish a remainder row by row.
      if (variant.endsWith("-changes")) for (let i = 0; i < rows.length; i += per) inserted += plain.run(rows.slice(i, i + per).flat()).changes;
      else for (let i = 0; i < rows.length; i += per) inserted += multi.all(rows.slice(i, i + per).flat()).length;
    });
    const start = Date.now();
    let n = 0;
    const batch = () =>
      Array.from({ length: SIZE }, () =>
        recordToValues(makeRecord({ id: v7(), userId: "u1", threadId: "t1", timestamp: new Date(start + n++).toISOString() })),
      );
    for (let w = 0; w < 50; w++) tx.immediate(batch());
    const batches = Array.from({ length: BATCHES }, batch);
    const before = process.cpuUsage();
    if (variant === "one-commit") db.transaction(() => batches.forEach((b) => tx(b))).immediate();
    else for (const b of batches) tx.immediate(b);
    const used = process.cpuUsage(before);
    if (inserted !== (BATCHES + 50) * SIZE) throw new Error(`inserted ${inserted} of ${(BATCHES + 50) * SIZE}`);
    return (used.user + used.system) / (BATCHES * SIZE);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === "--child") {
  process.stdout.write(JSON.stringify(child(args[1])));
} else {
  const repeat = args.includes("--repeat") ? Number(args[args.indexOf("--repeat") + 1]) : 3;
  const self = fileURLToPath(import.meta.url);
  const runs = new Map<string, number[]>(Object.keys(VARIANTS).map((v) => [v, []]));
  for (let r = 0; r < repeat; r++) {
    for (const v of Object.keys(VARIANTS)) {
      const out = execFileSync(process.execPath, ["--import", "tsx", self, "--child", v], { encoding: "utf8" });
      runs.get(v)!.push(JSON.parse(out) as number);
    }
  }
  console.log(`raw insert: CPU µs per record, median of ${repeat} alternating child processes`);
  for (const [v, xs] of runs) console.log(`${v.padEnd(20)} ${fmt(median(xs)).padStart(6)} µs   ${VARIANTS[v]}   (${xs.map((x) => fmt(x)).join(", ")})`);
}
