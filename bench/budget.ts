/**
 * Budget checks: the cost of an admitted call served from the process's lease, the
 * store round trips per 1,000 admitted calls (SQLite file on its worker thread, and the
 * local Cosmos server), and a day rollover with 40,000 users.
 */
import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CosmosClient } from "@azure/cosmos";
import { createHttpServer } from "@vercel/cosmosdb-server";
import { createBudgetedMonitor, type BudgetedMonitorOptions } from "../src/budget/index.js";
import { SqliteUsageStore } from "../src/stores/sqlite/index.js";
import type { BudgetCounterUpdate } from "../src/stores/types.js";
import { fmt, median, type Row } from "./stats.js";

const quiet = { warn: () => undefined, error: () => undefined };
const ESTIMATE = { tokens: 1100, costNanos: 100_000 };
const ACTUAL = { tokens: 1000, costNanos: 90_000 };

async function budgeted(options: BudgetedMonitorOptions, now?: () => Date, rolling = false) {
  const b = createBudgetedMonitor({ env: {}, logger: quiet, ...options, budget: { logger: quiet, ...(now ? { now } : {}) } });
  await b.guard.setLimit({ id: "global-cost", scope: "global", metric: "cost", amount: 1_000_000, mode: "block" });
  await b.guard.setLimit({ id: "per-user", scope: "user:*", metric: "tokens", amount: 1_000_000_000, mode: "block", ...(rolling ? { period: { rollingHours: 24 } } : {}) });
  return b;
}

/** reserve + settle of admitted calls, `concurrency` at a time; returns store round trips per 1,000 calls. */
async function roundTripsPer1000(options: BudgetedMonitorOptions, rolling = false): Promise<number> {
  const { monitor, guard } = await budgeted(options, undefined, rolling);
  let run = 0;
  const call = async (user: string) => {
    const runId = `r${run++}`;
    await guard.reserve({ runId, userId: user, estimate: ESTIMATE });
    await new Promise((r) => setImmediate(r));
    guard.settle(runId, ACTUAL);
  };
  for (let i = 0; i < 20; i++) await call(`u${i}`); // the first lease of each counter
  const before = guard.leases.stats.roundTrips;
  const lanes = 10;
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < 1000) await call(`u${next++ % 20}`);
    }),
  );
  await guard.flushUsage();
  const trips = guard.leases.stats.roundTrips - before;
  await monitor.close();
  return trips;
}

export async function benchBudget(): Promise<Row[]> {
  const rows: Row[] = [];
  // 1. An admitted check served from the lease: reserve (admit and hold) + release, in memory;
  // a calendar day and a rolling 24-hour per-user window measured side by side (rounds alternate).
  {
    const kinds = [await budgeted({ store: "sqlite", sqlitePath: ":memory:" }), await budgeted({ store: "sqlite", sqlitePath: ":memory:" }, undefined, true)];
    const trips: number[] = [];
    for (const { guard } of kinds) {
      for (let i = 0; i < 20; i++) {
        await guard.reserve({ runId: `warm${i}`, userId: `u${i}`, estimate: ESTIMATE });
        guard.release(`warm${i}`);
      }
      trips.push(guard.leases.stats.roundTrips);
    }
    const samples: number[][] = [[], []];
    let n = 0;
    for (let round = 0; round < 60; round++) {
      const k = round % 2;
      const guard = kinds[k].guard;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 1000; i++) {
        const runId = `c${n++}`;
        await guard.reserve({ runId, userId: `u${i % 20}`, estimate: ESTIMATE });
        guard.release(runId);
      }
      samples[k].push(Number(process.hrtime.bigint() - t0) / 1000 / 1000);
    }
    const [day, rolling] = samples.map((s) => median(s));
    rows.push({
      section: "budgets",
      measure: "admitted call: guard.reserve + release, global and per-user block limits, lease in memory (median)",
      value: `${fmt(day, 2)} µs`,
      note: `target under 20 µs; ${kinds[0].guard.leases.stats.roundTrips - trips[0]} store round trips in 30,000 checks`,
    });
    rows.push({
      section: "budgets",
      measure: "admitted call as above, per-user limit a rolling 24-hour window shared by every process (median)",
      value: `${fmt(rolling, 2)} µs`,
      note: `${fmt(rolling / day, 2)}× the calendar day, measured side by side; ${kinds[1].guard.leases.stats.roundTrips - trips[1]} store round trips in 30,000 checks`,
    });
    for (const { monitor } of kinds) await monitor.close();
  }

  // 2. Store round trips per 1,000 admitted calls (10 at a time, 20 users, reserve + settle).
  const dir = mkdtempSync(join(tmpdir(), "bench-budget-"));
  const sqliteTrips = await roundTripsPer1000({ store: "sqlite", sqlitePath: join(dir, "usage.db") });
  rows.push({ section: "budgets", measure: "store round trips per 1,000 admitted calls, SQLite file (worker thread)", value: String(sqliteTrips), note: "2 counters per call (global, per-user); settled usage reported every 250 ms" });
  const sqliteRollingTrips = await roundTripsPer1000({ store: "sqlite", sqlitePath: join(dir, "usage-rolling.db") }, true);
  rows.push({ section: "budgets", measure: "store round trips per 1,000 admitted calls, per-user rolling 24 h, SQLite file", value: String(sqliteRollingTrips), note: "as above, the per-user counter a rolling window (60 buckets in one row)" });
  const server = createHttpServer({} as never);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new CosmosClient({ endpoint, key: "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==", connectionPolicy: { enableEndpointDiscovery: false } });
  try {
    const cosmosTrips = await roundTripsPer1000({ store: "cosmos", cosmos: { client, databaseId: "bench-budget", containerId: "usage", createIfMissing: true } });
    rows.push({ section: "budgets", measure: "store round trips per 1,000 admitted calls, Cosmos (local server)", value: String(cosmosTrips), note: "as above; one round trip carries every counter due" });
    const cosmosRollingTrips = await roundTripsPer1000({ store: "cosmos", cosmos: { client, databaseId: "bench-budget", containerId: "usage-rolling", createIfMissing: true } }, true);
    rows.push({ section: "budgets", measure: "store round trips per 1,000 admitted calls, per-user rolling 24 h, Cosmos (local server)", value: String(cosmosRollingTrips), note: "as above, the per-user counter a rolling window (60 buckets in one document)" });
  } finally {
    client.dispose();
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // 2b. One counter report in the store (SQLite file, in-process): a calendar counter and a
  // rolling 24-hour counter holding 60 full buckets, side by side (rounds alternate).
  {
    const store = new SqliteUsageStore({ path: join(dir, "reports.db") });
    const HOUR = 3_600_000;
    const t0 = Date.now();
    const rolling = { windowMs: 24 * HOUR, bucketMs: 24 * 60_000 };
    const report = (kind: number, i: number): BudgetCounterUpdate => {
      const now = t0 + i;
      const base = { partition: "u1", limit: 1e12, seed: 0, holder: "h", spent: 1000, inFlight: 0, need: 0, want: 0, keep: 0, leaseUntil: now + 30_000, now };
      if (kind === 0) return { ...base, key: "calendar", expiresAt: now + 24 * HOUR };
      const b = Math.floor(now / rolling.bucketMs);
      // The first report fills every bucket of the window, so later ones read and write a full counter.
      const spentBuckets: Array<[number, number]> = i === 0 ? Array.from({ length: 61 }, (_, k) => [b - k, 1000]) : [[b, 1000]];
      return { ...base, key: "rolling", expiresAt: now + 25 * HOUR, rolling, spentBuckets, spent: spentBuckets.length * 1000 };
    };
    const samples: number[][] = [[], []];
    let i = 0;
    for (let round = 0; round < 40; round++) {
      const k = round % 2;
      const start = process.hrtime.bigint();
      for (let j = 0; j < 200; j++) await store.updateBudgetCounters([report(k, i++)]);
      samples[k].push(Number(process.hrtime.bigint() - start) / 200 / 1000);
    }
    const [cal, roll] = samples.map((x) => median(x));
    rows.push({
      section: "budgets",
      measure: "one counter report in the store, SQLite file in-process: calendar counter (rolling 24 h with 60 full buckets)",
      value: `${fmt(cal, 1)} µs (${fmt(roll, 1)} µs)`,
      note: `${fmt(roll / cal, 2)}× for the rolling counter, side by side; a report is one transaction whatever the window's length`,
    });
    await store.close();
  }

  // 2c. What remembering report numbers costs: 100 holders report in turn to one calendar
  // counter, unnumbered (a holder with no lease leaves no entry) and numbered (each holder's
  // last number is kept for 10 minutes: 100 entries), side by side (rounds alternate).
  {
    const store = new SqliteUsageStore({ path: join(dir, "numbered.db") });
    const t0 = Date.now();
    const seqs = new Map<string, number>();
    const report = (numbered: boolean, i: number): BudgetCounterUpdate => {
      const now = t0 + i;
      const holder = `h${i % 100}`;
      const seq = (seqs.get(holder) ?? 0) + 1;
      seqs.set(holder, seq);
      return {
        key: numbered ? "numbered" : "unnumbered", partition: "u1", expiresAt: now + 3_600_000, limit: 1e12, seed: 0, holder,
        spent: 1000, inFlight: 0, need: 0, want: 0, keep: 0, leaseUntil: now + 30_000, now, ...(numbered ? { seq } : {}),
      };
    };
    const samples: number[][] = [[], []];
    let i = 0;
    for (let round = 0; round < 40; round++) {
      const k = round % 2;
      const start = process.hrtime.bigint();
      for (let j = 0; j < 200; j++) await store.updateBudgetCounters([report(k === 1, i++)]);
      samples[k].push(Number(process.hrtime.bigint() - start) / 200 / 1000);
    }
    const [plain, numbered] = samples.map((x) => median(x));
    rows.push({
      section: "budgets",
      measure: "one counter report, SQLite file in-process, 100 holders reporting in turn: unnumbered (numbered, 100 holders remembered)",
      value: `${fmt(plain, 1)} µs (${fmt(numbered, 1)} µs)`,
      note: `${fmt(numbered / plain, 2)}× for numbered reports, side by side; the price of recognising a report resent after a lost answer`,
    });
    await store.close();
  }

  // 3. Day rollover: the first check of the next day with 1 and with 40,000 users holding a
  // per-user window (it includes the store round trip that opens the new day's counters).
  const rollover = async (users: number, days: number) => {
    let t = Date.parse("2026-03-10T12:00:00Z");
    const { monitor, guard } = await budgeted({ store: "sqlite", sqlitePath: ":memory:" }, () => new Date(t));
    const times: number[] = [];
    let freedMb: number | null = null;
    for (let day = 0; day < days; day++) {
      for (let i = 0; i < users; i++) {
        await guard.reserve({ runId: `d${day}-${i}`, userId: `user-${i}`, estimate: ESTIMATE });
        guard.settle(`d${day}-${i}`, ACTUAL);
      }
      await guard.flushUsage();
      const heapBefore = heapUsed();
      t += 12 * 3_600_000 + 1000; // 00:00:01 of the next day
      const t0 = performance.now();
      await guard.reserve({ runId: `next-day-${day}`, userId: "user-0", estimate: ESTIMATE });
      times.push(performance.now() - t0);
      guard.release(`next-day-${day}`);
      // The ended windows' leases are dropped by the background reporter, 2,000 per tick.
      for (let i = 0; i < Math.ceil(users / 2000) + 1; i++) await guard.flushUsage();
      const heapAfter = heapUsed();
      if (heapBefore !== null && heapAfter !== null) freedMb = (heapBefore - heapAfter) / 1e6;
      t += 12 * 3_600_000 - 1000; // noon again
    }
    await monitor.close();
    return { ms: median(times), freedMb };
  };
  const one = await rollover(1, 3);
  const many = await rollover(40_000, 3);
  rows.push({
    section: "budgets",
    measure: "day rollover: first check of the new day, 40,000 users with a per-user window (1 user), median of 3 days",
    value: `${fmt(many.ms, 2)} ms (${fmt(one.ms, 2)} ms)`,
    note:
      "target under 50 ms; includes the store round trip opening the new day's counters" +
      (many.freedMb !== null ? `; ${fmt(many.freedMb, 1)} MB of heap released with the ended windows` : ""),
  });
  return rows;
}

/** Heap after a full collection, when the process exposes gc (node --expose-gc). */
function heapUsed(): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  gc();
  return process.memoryUsage().heapUsed;
}
