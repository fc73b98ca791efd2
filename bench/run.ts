/**
 * `npm run bench`: every benchmark in one run, one table, written to BENCHMARKS.md
 * with the machine it ran on. `npm run bench -- --quick` uses smaller datasets
 * (100,000 SQLite records) for a fast look; the committed table is a full run.
 * `npm run bench -- --only <text>` runs the sections whose name contains <text> and
 * prints their rows without touching BENCHMARKS.md (for working on one section).
 */
import { writeFileSync } from "node:fs";
import { benchBudget } from "./budget.js";
import { benchConcurrency } from "./concurrency.js";
import { benchCosmos } from "./cosmos.js";
import { benchCosmosWrites } from "./cosmos-writes.js";
import { benchCosmosGlobal } from "./cosmos-global.js";
import { benchDashboardLatency } from "./dashboard-latency.js";
import { benchDiskFull } from "./disk-full.js";
import { benchEventLoop } from "./event-loop.js";
import { benchHandlerOverhead } from "./handler-overhead.js";
import { benchLeaderboards } from "./leaderboards.js";
import { benchSqliteScale } from "./sqlite-scale.js";
import { benchTelemetry } from "./telemetry.js";
import { benchWholeCost } from "./whole-cost.js";
import { machine, type Row } from "./stats.js";

const quick = process.argv.includes("--quick");
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const allSections: Array<[string, () => Promise<Row[]>]> = [
  ["whole cost", () => benchWholeCost()],
  ["handler overhead", () => benchHandlerOverhead()],
  ["concurrent agent runs", () => benchConcurrency(1000, quick ? 1 : 3)],
  ["budget check", () => benchBudget()],
  ["OpenTelemetry metrics", () => benchTelemetry()],
  ["SQLite at scale", () => benchSqliteScale(quick ? 100_000 : 1_000_000)],
  ["dashboard latency view", () => benchDashboardLatency(quick ? 50_000 : 200_000)],
  ["leaderboards", () => benchLeaderboards(quick ? [100_000] : [1_000_000, 10_000_000])],
  ["SQLite writes and the event loop", () => benchEventLoop(quick ? 50_000 : 200_000)],
  ["Cosmos (local server)", async () => [...(await benchCosmos(quick ? [200, 600] : [300, 1500])), ...(await benchCosmosWrites(quick)), ...(await benchCosmosGlobal())]],
  ["recovery after a full disk", () => benchDiskFull(15_000)],
];
const sections = only ? allSections.filter(([name]) => name.includes(only)) : allSections;
if (sections.length === 0) throw new Error(`bench: no section name contains "${only}"`);

const rows: Row[] = [];
const started = Date.now();
for (const [name, run] of sections) {
  process.stderr.write(`bench: ${name}…\n`);
  rows.push(...(await run()));
}
const seconds = Math.round((Date.now() - started) / 1000);
const table = [
  "| section | measure | value | note |",
  "| --- | --- | --- | --- |",
  ...rows.map((r) => `| ${r.section} | ${r.measure} | ${r.value} | ${r.note ?? ""} |`),
].join("\n");
const header = `Machine: ${machine()}. Run of ${new Date().toISOString().slice(0, 10)}${quick ? " (quick)" : ""}, ${seconds} s.`;
console.log(`${header}\n\n${table}`);
if (only) process.exit(0);

writeFileSync(
  "BENCHMARKS.md",
  `# Benchmarks

Produced by \`npm run bench\` (the table below is pasted by the command itself; do not edit it by hand).
Medians and ratios come from one run, side by side, because these machines are shared
and noisy: compare figures within a run, not across runs.

${header}

${table}

## How each figure is measured

- **Whole cost** (\`bench/whole-cost.ts\`): what tracking a model call costs in all, not only the slice on
  the agent's path. 200 \`invoke()\` calls in a row on a scripted chat model that reports usage (the one the
  examples use), and inside the same timed window \`awaitAllCallbacks()\` (LangChain's background callback
  queue) and, for this package, \`monitor.flush()\`: building, validating, pricing, metadata sanitising and
  secret redaction, the message to the SQLite worker and the insert with its rollups. CPU is
  \`process.cpuUsage()\`, which counts every thread of the process (the SQLite worker and the garbage
  collector's helpers included); wall is the window's length. Seven kinds: no handler, a no-op handler,
  this package as an application gets it by default (a SQLite file in a temp folder, on the worker
  thread, the default budget guard with no limits set), the same with \`monitor.flush()\` after every
  call, the same with calls spread over 10,000 users as a fleet replica makes them, at two flush
  intervals (see below), and
  \`@langfuse/langchain\`'s handler without an exporter. Each kind runs in a process of its own
  (40 rounds of warm-up, then 30 measured rounds, the median per call); the processes take turns, three
  turns with the order rotating, and the table gives the median of the three. "Over a no-op handler"
  subtracts LangChain's own callback machinery. The window holds 200 calls: the writer writes one batch
  per flush, so fewer calls per flush cost more per call (a lone call pays a whole transaction), more
  cost less.
  - Why a process per kind: until 2026-12 the kinds took turns round by round in one process. Then
    whatever garbage a kind left was collected in the next kind's window, so each kind's figure held
    part of its neighbours' costs: Langfuse's handler, which leaves the most, inflated ours. Side by
    side in one run, the shared process gave ours 32.7 µs and Langfuse's 30.0 µs over a no-op handler;
    a process per kind gave 17.2 µs and 18.2 µs. In a process of its own a kind pays exactly its own
    garbage, deferred or not. The warm-up is long because LangChain's code needs it: with 5 rounds the
    no-op kind alone cost 44 µs per call, with 40 rounds 17 µs.
  - The fleet rows: one user's 200 calls in a batch share every page a commit writes, which flatters
    the figure. A replica serving many users writes, for each record, a page of its own in each
    per-user table and index (the user's and the thread's index entries, the user counts, the per-day
    leaderboard rows and their cost indexes). So the fleet kinds spread their calls over 10,000 users
    (three threads each), attach a handler per call as an application does per request, and flush
    once per writer interval of a replica making 50 calls/s: every 50 calls with the default 1 s
    interval, every 10 with the 200 ms of earlier versions. The database holds only the run's own
    records (14,000 per process), so B-tree depth and cache misses of a month of traffic are not in
    it: a lower bound. Nearly all of a fleet call's cost is the store: in an in-process append of
    50 records of 10,000 users, the commit costs about 26 µs per record, the rollups 15, the insert
    5. The commit writes about 7.5 pages per record: of 360 pages in one such commit, 214 were the
    per-day leaderboard tables and their cost indexes (every record moves its user's and its
    thread's entry in the day's cost order), 91 the user and thread indexes of the record table,
    25 the user counts, and 30 everything shared (the record table, its time and id indexes, the
    global rollups). That is where a fleet's cost would come down next: a leaderboard kept
    without a cost index per day, or a cheaper count of a user's records.
  - Where the floor is (\`bench/compare-parts.ts\`, \`bench/insert-layout.ts\`, 2026-12): an in-process
    \`append\` of 200-record batches of one user costs about 5.9 µs CPU per record: the insert of the
    row with its id key and three indexes about 3.9 µs, the commit about 1.5 µs (2.0 counting the
    WAL checkpoints it pays for in turn), the rollups 0.7 µs, turning records into rows 0.35 µs. The
    message to the worker thread adds about 1 µs. The deferred record build costs 4.5 to 5.5 µs alone,
    and 5 to 10 µs more per call when it runs between LangChain's calls (caches cold), spread over a
    dozen small steps (attribution, model and usage reads, metadata, pricing), none above half a
    microsecond. (Until 2026-12 \`compare-parts append\` gave 8.9 µs: its batches' timestamps
    overlapped, which put every index insert in the middle of its tree.) Three ways to cheapen the
    insert were measured and dropped: binding each row as one array argument instead of 36 arguments
    (5.2 against 4.3 µs); multi-row \`INSERT\` statements of 25 or 50 rows (8.5 µs counting changes
    only, 9.8 µs with \`RETURNING\` the inserted ids, which the rollups need); and a narrower row, the 7
    columns derived from others (ISO timestamp, day, month, three REAL costs, run id) left out: 0.7 µs
    less (insert 3.5 to 3.2, commit 1.33 to 0.91), not worth a migration of every stored record and
    its queries. So the durable, indexed row alone is about a third of Langfuse's handler's added
    cost (about 16 µs, which stores nothing): the "5× below Langfuse" target cannot be met while every
    call is stored as an indexed SQLite row in the same process, and ≤ 10 µs would need the store and
    the build both halved.
  - One record per flush (the "one record per commit" rows: \`monitor.flush()\` after every call, as a
    serverless handler does) is a cost per flush. Until 2026-12 it was about 0.56 ms of CPU and 2.7 ms
    of wall time per call: \`flush()\` waited on LangChain's \`awaitAllCallbacks()\`, which begins with a
    1 ms sleep for LangSmith's trace batches, and the writer started its drain with \`setTimeout(0)\`,
    another millisecond. Now \`flush()\` queues a task of its own behind the callbacks in LangChain's
    queue, and the drain starts with \`setImmediate\`: 2.6 ms to 0.36 ms of wall time for the flush
    alone. What is left is the commit (a one-record commit writes 14 pages to the WAL, one per table
    and index it touches, and SQLite checksums and writes each whole page), the rollups and the
    round trip to the worker.
  - Page size: a commit writes each page it touched whole, so the page size is what a small flush
    pays per table it touches. A one-record commit costs 151 µs with 16 KiB pages, 85 with 8 KiB,
    47 with 4 KiB; with 10,000 users and flushes of 10 records, commit and rollups cost 134 µs per
    record with 16 KiB pages, 92 with 8 KiB and 72 with 4 KiB. A bulk ingest pays the other way: a
    million records in batches of 5,000 ingest at 40,000 records/s with 16 KiB pages, 37,100 with
    4 KiB. New files use 4 KiB pages since 2026-12 (the fleet kind: 180 to 135 µs per call); files
    made before keep their 16 KiB pages.
  - Small batches' rollups: an append sums its rollup increments in JavaScript, one upsert per
    group, when its users have several records each; a batch of about a record per user used
    SQLite's grouped statements, one per table, which cost as much to start as a small batch's
    upserts. With 10,000 users, the rollups of batches of 10, 50 and 200 records cost 29.5, 22.2 and
    17.6 µs per record grouped by SQLite and 18.1, 16.1 and 13.4 summed in JavaScript; at 500 records
    the two were even, at 1,000 SQLite won (10.5 against 13.6). Batches of up to 250 records are now
    summed in JavaScript (the fleet kind: 135 to 110 µs per call).
  - Flush interval: the fleet kind flushing every 10 calls (200 ms at 50 calls/s) cost 120 µs per
    call, every 50 (1 s) 80 µs, in alternating child processes: part of every commit (the global
    rollups, the right-hand pages of the time and id indexes, the fixed cost of a flush) is shared
    by the whole batch. The default interval is 1 s since 2026-12 (OpenTelemetry's batch span
    processor, which Langfuse's SDKs use, waits 5 s).
  \`bench/profile-whole-cost.ts\` runs this package's kind alone under \`node --cpu-prof\`, and
  \`bench/cpu-profile-summary.ts\` prints a profile's self time by function and by file. Note that V8's
  samples are taken in wall time: on a loaded machine a thread preempted inside \`postMessage\` shows it as
  its cost, so thread CPU (\`/proc/self/task/*/stat\`) and the A/B runs below decide, not the profile alone.
- **What each change to the whole cost bought** (\`bench/compare-revisions.ts <rev>...\`: each revision of
  \`src/\` in child processes of its own taking turns with the working tree, 60 rounds of 200 calls each,
  added CPU per call over a no-op handler, median of 3 or 4 children; on one 2-core machine shared with
  other work, so differences under ~5 µs are within the noise). Before this work: 40.8 µs (revision
  8ba6e5a); after, on the same line: 29.6 µs; on top of the merged main of the time (0e4f845, which
  costs 45.7 µs in the same run): 26.5 µs.
  - the handler built the record's input as \`{ ...usage, id, runId, ... }\`: a spread followed by a dozen
    more keys cost 18 µs per record in isolation on Node 20 (each added key a slow map transition), now
    1.7 µs written out field by field; in child processes the change measured 40.8 to 39.6 µs (within the
    noise: the slow path shows most in a long-lived, polymorphic process);
  - \`extractModel\` built arrays of every candidate name before taking the first (4.9 µs per call in
    isolation, now 0.6 µs reading candidates one at a time); \`extractUsage\`, on the agent's path, used
    per-call closures and intermediate arrays (2.6 µs, now 0.3 µs with plain loops): together 39.6 to
    32.0 µs, and the on-path slice ("handler overhead") from 1.53 to about 1.0 µs;
  - no per-call array for the well-known dimension keys, no \`filter\`/\`map\` chain for empty tags, no
    \`Object.entries\` for empty dimensions: 32.0 to 29.4 µs;
  - the worker-thread store sends rows (values in column order) instead of record objects, and the
    worker inserts them as they come (\`SqliteUsageStore.appendRows\`): cloning a record object writes and
    reads its 36 keys for every record. Measured between 0 and 7 µs less per call across runs
    (37.2 to 30.2 in three alternating pairs; 29.4 to 29.6 in the four-revision run);
  - tried and reverted: building each record at the end of the turn its call ended in (\`setImmediate\`),
    so that a finished call's \`LLMResult\` and metadata die young instead of waiting for the writer's
    batch: 35.7 vs 35.5 µs in three alternating pairs, no gain.
  Where the rest goes (thread CPU from \`/proc/self/task\`, same bench): about half on the main thread
  (LangChain handing the run to one more handler, the record, the writer, the clone to the worker,
  the budget guard's \`observe\`, and the garbage all of it leaves), about 12 µs in the SQLite worker
  (an in-process \`append\` of 200 such records costs about 13 µs per record, 3.4 µs of it the rollups
  kept in the same transaction), and a few µs in the collector's helper threads.
- **Handler overhead**: \`handleChatModelStart\` + \`handleLLMEnd\` called directly with a realistic
  \`LLMResult\` (OpenAI-shaped, with cached tokens), 1,000 calls per batch, 40 batches per handler,
  interleaved (ours, a no-op handler, \`@langfuse/langchain\`'s handler without an exporter) so all three
  see the same load; the median per-call time is reported. Our handler's record is built, priced and
  stored afterwards by the background writer (not on the measured path); those records are counted.
- **Concurrent agent runs**: 1,000 \`invoke()\` calls on a scripted chat model started at once, in three
  waves of each kind: no callbacks, a no-op handler (LangChain's own callback machinery), and
  \`attachTokenTracking\`; the added latency is tracking minus the no-op handler, at the same percentile.
- **Budget check**: \`guard.check(user)\` against a global and a per-user limit, windows already loaded.
- **SQLite ingest**: a million records over 10,000 users (one heavy user with a fifth of them), in
  time order, appended through the store in transactions of 5,000: id uniqueness, three indexes, and the
  application-wide and per-user rollups, all in the same transaction; the same rows inserted into a table
  with the same columns and no index, key or rollup, in the same run. Then the first 200,000 of another
  such dataset in transactions of 1,000, the writer's default.
- **SQLite queries**: on the database just written (90 days): \`getUserUsage\` over 30 days (a range not
  aligned to hours, so partial hours at both ends are read from raw records) for 50 typical users and
  for the heavy user, and \`getThreadUsage\`, against a plain SQL \`GROUP BY\` over the raw table answering
  the same question.
- **Leaderboards**: the same kind of dataset (10,000 users, one heavy user with a fifth of the
  calls, 90 days) at 1,000,000 and at 10,000,000 records. The 1M database is written through the
  store in transactions of 20,000 (every table, the per-day leaderboard tables included, is what
  live appends leave; the build rate is printed too). Appending 10M that way takes most of an hour
  on this machine, so the 10M database is built in bulk: the same rows inserted with the record
  table's three secondary indexes dropped and then recreated, and every rollup and leaderboard
  table computed by the store's own \`rebuildRollups()\` (which recomputes them from the records);
  the result is the same database, reached faster. Then \`getTopUsers\` / \`getTopThreads\` (top 10)
  over "the last 30 days" asked at 30 moments of one day (ends moved by ~17 minutes each, so
  the partial days at both ends change while the whole days in between stay the same): the
  median of those 30 calls. On its own row, the first call of such a day, which builds the
  window over its whole days (once a day for a rolling range) from the day before's window
  (asked for first, on a database with no window yet: that first build, from the per-day
  tables, is in the note). For one of the ranges the core's trace gives the rows read from
  the ranked lists, the number of entities whose exact cost and whose exact totals were
  read, against the user-days or thread-days the range holds. Beside them, the same question
  answered by grouping every record of the range (what a store without the fast path does, and
  what this store did before): median of 3 calls at 1M, one call at 10M; "same answer" means
  both answers were compared whole (keys, costs, tokens, requests) and were equal.
- **SQLite writes and the event loop**: the same kind of dataset appended in batches of 1,000 by the
  in-process store and by the worker-thread store, with \`monitorEventLoopDelay\` running: the delay
  any other task on the main thread (an agent's next step) would have seen.
- **Cosmos**: the in-process \`@vercel/cosmosdb-server\` over HTTP; documents read are counted by the store.
- **Cosmos write path** (rows "heavy user's hour", "estimated RU per record", "per-user 30-day
  aggregate"): the extended local server, the store's own client with a request plugin
  (\`bench/cosmos-sdk-meter.ts\`) that sees every network request the SDK sends, retries included.
  Documents read = point reads answered plus documents returned by queries; documents written =
  creates, replaces and patches, batch operations counted one by one. A heavy user makes one call a
  second for an hour with a flush every 5 s; "flushes 2-11" and "last 10 flushes" are the means over
  those flushes. RU are estimated, not measured (the local server charges nothing real), from
  Microsoft's published table "Understand request unit consumption" (point read / write by document
  size: 1 KB 1.00 / 4.95 RU, 2 KB 1.04 / 6.29, 4 KB 1.14 / 6.67, 8 KB 1.33 / 7.04, ...; linear
  between rows, never below the 1 KB row): a patch or replace is priced as a write of the whole
  resulting document (the partial-update FAQ: billed like other operations), a batch as the sum of its
  operations, a 404 read as 1 RU, a query as 2.5 RU plus a read of each document returned (an
  assumption; the table has no query row). "Records alone" prices each record's document as a write
  with nothing else: the ratio is what rollups add. Steady state = the second half of the hour.
`,
);
