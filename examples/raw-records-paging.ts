/**
 * Reading raw records page by page with `getAllUsage({ limit, cursor })`: newest
 * first, an opaque cursor to pass back, no cursor after the last page. Keyset
 * paging (by timestamp and id) means a write made while you page neither repeats
 * nor skips a record. Filters (`userId`, `threadId`, `model`, `agentName`,
 * `provider`, a range) narrow the pages.
 *
 * Run: npx tsx examples/raw-records-paging.ts
 */
import { createTokenMonitor, type UsageRecord } from "../src/index.js";
import { exampleDbPath } from "./lib/example-db.js";

const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: exampleDbPath("paging") });

// 23 calls one minute apart over the last half hour, alternating between two users.
const now = Date.now();
for (let i = 0; i < 23; i++) {
  await monitor.trackUsage({
    id: `call-${String(i).padStart(2, "0")}`, // a given id makes the write idempotent
    userId: i % 2 === 0 ? "alice" : "bob",
    provider: "openai",
    model: "gpt-4o-mini",
    inputTokens: 100 + i,
    outputTokens: 20,
    timestamp: new Date(now - (30 - i) * 60_000),
  });
}
await monitor.flush();

const seen: UsageRecord[] = [];
let cursor: string | undefined;
let pageNumber = 0;
do {
  const page = await monitor.getAllUsage({ days: 1, limit: 10, cursor });
  pageNumber++;
  const ids = page.records.map((r) => r.id);
  console.log(`page ${pageNumber}: ${ids.length} records, ${ids[0]} .. ${ids.at(-1)}${page.cursor ? "" : " (last page)"}`);
  seen.push(...page.records);
  cursor = page.cursor;
} while (cursor);

const unique = new Set(seen.map((r) => r.id)).size;
console.log(`Read ${seen.length} records in ${pageNumber} pages, ${unique} distinct, newest first: ${seen[0]?.timestamp > seen.at(-1)!.timestamp}`);

const alice = await monitor.getAllUsage({ days: 1, userId: "alice", limit: 1000 });
console.log(`Filtered to alice: ${alice.records.length} records, ${alice.records.reduce((n, r) => n + r.totalTokens, 0)} tokens`);
await monitor.close();
