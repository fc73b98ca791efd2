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
import { fmt, median, type Row } from "./stats.js";

const quiet = { warn: () => undefined, error: () => undefined };
const ESTIMATE = { tokens: 1100, costNanos: 100_000 };
const ACTUAL = { tokens: 1000, costNanos: 90_000 };

async function budgeted(options: BudgetedMonitorOptions, now?: () => Date) {
  const b = createBudgetedMonitor({ env: {}, logger: quiet, ...options, budget: { logger: quiet, ...(now ? { now } : {}) } });
  await b.guard.setLimit({ id: "global-cost", scope: "global", metric: "cost", amount: 1_000_000, mode: "block" });
  await b.guard.setLimit({ id: "per-user", scope: "user:*", metric: "tokens", amount: 1_000_000_000, mode: "block" });
  return b;
}

/** reserve + settle of admitted calls, `concurrency` at a time; returns store round trips per 1,000 calls. */
async function roundTripsPer1000(options: BudgetedMonitorOptions): Promise<number> {
  const { monitor, guard } = await budgeted(options);
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
  // 1. An admitted check served from the lease: reserve (admit and hold) + release, in memory.
  {
    const { monitor, guard } = await budgeted({ store: "sqlite", sqlitePath: ":memory:" });
    for (let i = 0; i < 20; i++) {
      await guard.reserve({ runId: `warm${i}`, userId: `u${i}`, estimate: ESTIMATE });
      guard.release(`warm${i}`);
    }
    const trips = guard.leases.stats.roundTrips;
    const samples: number[] = [];
    let n = 0;
    for (let round = 0; round < 30; round++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 1000; i++) {
        const runId = `c${n++}`;
        await guard.reserve({ runId, userId: `u${i % 20}`, estimate: ESTIMATE });
        guard.release(runId);
      }
      samples.push(Number(process.hrtime.bigint() - t0) / 1000 / 1000);
    }
    rows.push({
      section: "budgets",
      measure: "admitted call: guard.reserve + release, global and per-user block limits, lease in memory (median)",
      value: `${fmt(median(samples), 2)} µs`,
      note: `target under 20 µs; ${guard.leases.stats.roundTrips - trips} store round trips in 30,000 checks`,
    });
    await monitor.close();
  }

  // 2. Store round trips per 1,000 admitted calls (10 at a time, 20 users, reserve + settle).
  const dir = mkdtempSync(join(tmpdir(), "bench-budget-"));
  const sqliteTrips = await roundTripsPer1000({ store: "sqlite", sqlitePath: join(dir, "usage.db") });
  rows.push({ section: "budgets", measure: "store round trips per 1,000 admitted calls, SQLite file (worker thread)", value: String(sqliteTrips), note: "2 counters per call (global, per-user); settled usage reported every 250 ms" });
  const server = createHttpServer({} as never);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new CosmosClient({ endpoint, key: "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==", connectionPolicy: { enableEndpointDiscovery: false } });
  try {
    const cosmosTrips = await roundTripsPer1000({ store: "cosmos", cosmos: { client, databaseId: "bench-budget", containerId: "usage", createIfMissing: true } });
    rows.push({ section: "budgets", measure: "store round trips per 1,000 admitted calls, Cosmos (local server)", value: String(cosmosTrips), note: "as above; one round trip carries every counter due" });
  } finally {
    client.dispose();
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
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
