/**
 * The Cosmos store's application-wide views, counted at the SDK (bench/cosmos-sdk-meter.ts)
 * on the extended local server: documents read by each global view (30 days, a
 * dimension view included) at three fleet sizes (leaderboards: the first call of the day builds the span's window, later
 * calls read its top), and what the change-feed consumer costs per record it folds (documents
 * read and written, RU from the published model), folding after every flush (the
 * default: a flush is in the global views when it resolves) and once for many flushes
 * (what a background drain costs per record). Fleets stay small: the local server's
 * query engine slows quadratically past a few thousand items.
 */
import { UsageQueries } from "../src/query/usage-queries.js";
import type { UsageRecord } from "../src/record/types.js";
import { CosmosUsageStore } from "../src/stores/cosmos/index.js";
import { startExtendedServer } from "../test/support/cosmos-ext/server.js";
import { DAY_MS, datasetChunks } from "./dataset.js";
import { meteredClient, SdkMeter, type MeterCounts } from "./cosmos-sdk-meter.js";
import { fmt, type Row } from "./stats.js";

const SECTION = "Cosmos (local server)";
const KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";
const END = Date.UTC(2036, 8, 1);

/** `users` users, `perUser` calls each on average, over 30 days (every day has calls); a tenant dimension (20 values) on most. */
function fleet(users: number, perUser: number, seed: number): UsageRecord[] {
  const out: UsageRecord[] = [];
  for (const chunk of datasetChunks({ total: users * perUser, users: users + 1, heavyShare: 0, endMs: END, days: 30, seed }, 1000)) out.push(...chunk);
  return out.map((r, i) => ({ ...r, id: `f${users}-${seed}-${i}`, dimensions: (i % 5 === 0 ? {} : { tenant: `tenant-${i % 20}` }) as Record<string, string> }));
}

export async function benchCosmosGlobal(fleets = [40, 160, 640], perUser = 3): Promise<Row[]> {
  const server = await startExtendedServer();
  const meter = new SdkMeter();
  const client = meteredClient(server.endpoint, KEY, meter);
  const rows: Row[] = [];
  const open = (containerId: string, globalRollups = true) =>
    new CosmosUsageStore({ client, databaseId: "bench-global", containerId, globalRollups, globalConsumerIntervalMs: 0 });
  try {
    const views: Record<string, MeterCounts[]> = {
      "getOverallUsage": [],
      "usage by model": [],
      "usage by dimension (tenant)": [],
      "top 10 users, first call (builds the span's window)": [],
      "top 10 users, again": [],
      "top 10 threads, first call (builds the span's window)": [],
      "top 10 threads, again": [],
      "top 10 users, next day's first call (window derived from the day before's)": [],
    };
    for (const users of fleets) {
      const store = open(`fleet-${users}`);
      const records = fleet(users, perUser, users);
      for (let i = 0; i < records.length; i += 100) await store.append(records.slice(i, i + 100));
      await store.flush();
      const q = new UsageQueries(store);
      const range = { start: new Date(END - 30 * DAY_MS), end: new Date(END) };
      const measure = async (name: string, fn: () => Promise<unknown>) => {
        meter.reset();
        await fn();
        views[name].push(meter.reset());
      };
      await measure("getOverallUsage", () => q.getOverallUsage(range));
      await measure("usage by model", () => q.getUsageByModel(range));
      await measure("usage by dimension (tenant)", () => q.getUsageBy("tenant", range));
      await measure("top 10 users, first call (builds the span's window)", () => q.getTopUsers({ ...range, limit: 10 }));
      await measure("top 10 users, again", () => q.getTopUsers({ ...range, limit: 10 }));
      await measure("top 10 threads, first call (builds the span's window)", () => q.getTopThreads({ ...range, limit: 10 }));
      await measure("top 10 threads, again", () => q.getTopThreads({ ...range, limit: 10 }));
      const next = { start: new Date(range.start.getTime() + DAY_MS), end: new Date(range.end.getTime() + DAY_MS) };
      await measure("top 10 users, next day's first call (window derived from the day before's)", () => q.getTopUsers({ ...next, limit: 10 }));
      await store.close();
    }
    for (const [name, counts] of Object.entries(views)) {
      rows.push({
        section: SECTION,
        measure: `global view, 30 days: ${name}, documents read at ${fleets.join(" / ")} users`,
        value: counts.map((c) => c.documentsRead).join(" / "),
        note: `requests ${counts.map((c) => c.requests).join(" / ")}; ${perUser} calls per user over 30 days`,
      });
    }

    // The consumer's cost per record: the same flushes with and without it, and one drain for all.
    const heavy = fleet(20, 30, 7).map((r, i) => ({ ...r, timestamp: new Date(END + i * 1000).toISOString() }));
    const perFlush = 5;
    // `flush()` after every append: what `monitor.flush()` after every flush would cost.
    const run = async (store: CosmosUsageStore) => {
      meter.reset();
      for (let i = 0; i < heavy.length; i += perFlush) {
        await store.append(heavy.slice(i, i + perFlush));
        await store.flush();
      }
      const c = meter.reset();
      await store.close();
      return c;
    };
    const alone = await run(open("writes-alone", false));
    const folded = await run(open("writes-folded", true));
    const per = (a: number, b: number) => fmt((a - b) / heavy.length);
    rows.push({
      section: SECTION,
      measure: `change-feed consumer, store flush() after every append of ${perFlush} records: per record folded, documents read / written`,
      value: `${per(folded.documentsRead, alone.documentsRead)} / ${per(folded.documentsWritten, alone.documentsWritten)}`,
      note: `${per(folded.ru, alone.ru)} RU per record (published RU model; feed items priced as reads); write path alone ${fmt(alone.ru / heavy.length)} RU`,
    });
    const writer = open("background", false);
    for (let i = 0; i < heavy.length; i += perFlush) await writer.append(heavy.slice(i, i + perFlush));
    await writer.close();
    const consumer = open("background", true);
    meter.reset();
    await consumer.drainGlobalRollups();
    const bg = meter.reset();
    await consumer.close();
    rows.push({
      section: SECTION,
      measure: `change-feed consumer, one drain after ${heavy.length / perFlush} flushes: per record folded, documents read / written`,
      value: `${fmt(bg.documentsRead / heavy.length)} / ${fmt(bg.documentsWritten / heavy.length)}`,
      note: `${fmt(bg.ru / heavy.length)} RU per record; the feed also returns the per-user rollups written beside the records`,
    });
  } finally {
    client.dispose();
    await server.close();
  }
  return rows;
}
