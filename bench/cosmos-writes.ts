/**
 * The Cosmos write path, counted at the SDK (bench/cosmos-sdk-meter.ts) on the extended
 * local server (atomic batches, Patch in batches): documents read and written per flush
 * at the start and at the end of a heavy user's hour (1 call/s, a flush every 5 s), and
 * an estimated RU cost per record from Microsoft's published model against writing the
 * records alone (the same documents, no rollups). Also a light user (one record per
 * flush) and a per-user 30-day stats read.
 */
import type { UsageRecord } from "../src/record/types.js";
import { CosmosUsageStore } from "../src/stores/cosmos/index.js";
import { toUsageDocument } from "../src/stores/cosmos/documents.js";
import { startExtendedServer } from "../test/support/cosmos-ext/server.js";
import { DAY_MS, datasetChunks } from "./dataset.js";
import { meteredClient, SdkMeter, writeRu, type MeterCounts } from "./cosmos-sdk-meter.js";
import { fmt, type Row } from "./stats.js";

const SECTION = "Cosmos (local server)";
const KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

/** One user's records at one call per `stepMs` from `startMs`, realistic fields from the bench dataset. */
function userRecords(userId: string, n: number, startMs: number, stepMs: number, seed: number): UsageRecord[] {
  const out: UsageRecord[] = [];
  for (const chunk of datasetChunks({ total: n, users: 2, heavyShare: 1, endMs: startMs + DAY_MS, days: 1, seed }, 1000)) {
    out.push(...chunk);
  }
  return out.map((r, i) => ({ ...r, id: `${userId}-${seed}-${i}`, userId, threadId: `${userId}-t${i % 7}`, timestamp: new Date(startMs + i * stepMs).toISOString() }));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export async function benchCosmosWrites(quick = false): Promise<Row[]> {
  const server = await startExtendedServer();
  const meter = new SdkMeter();
  const client = meteredClient(server.endpoint, KEY, meter);
  const rows: Row[] = [];
  try {
    // The write path alone; the change-feed consumer's share is measured in cosmos-global.ts.
    const store = new CosmosUsageStore({ client, databaseId: "bench-writes", containerId: "usage", globalRollups: false });
    await store.getSetting("warm", "up");

    // A heavy user's hour: 1 call/s, a flush every 5 s (720 flushes of 5 records).
    const perFlush = 5;
    const n = quick ? 1800 : 3600;
    const heavy = userRecords("heavy", n, Date.UTC(2036, 5, 1, 10), 1000, 1);
    const flushes: MeterCounts[] = [];
    for (let i = 0; i < heavy.length; i += perFlush) {
      meter.reset();
      await store.append(heavy.slice(i, i + perFlush));
      flushes.push(meter.reset());
    }
    const first = flushes.slice(1, 11);
    const last = flushes.slice(-10);
    const steady = flushes.slice(Math.floor(flushes.length / 2));
    const recordsRu = (rs: UsageRecord[]) => rs.reduce((s, r) => s + writeRu(Buffer.byteLength(JSON.stringify(toUsageDocument(r)))), 0);
    const steadyRecords = heavy.slice(Math.floor(flushes.length / 2) * perFlush);
    const ruPerRecord = steady.reduce((s, f) => s + f.ru, 0) / steadyRecords.length;
    const aloneRuPerRecord = recordsRu(steadyRecords) / steadyRecords.length;
    rows.push(
      {
        section: SECTION,
        measure: `heavy user's hour (${n} calls, flush of ${perFlush}): documents read / written per flush, flushes 2-11`,
        value: `${fmt(mean(first.map((f) => f.documentsRead)))} / ${fmt(mean(first.map((f) => f.documentsWritten)))}`,
        note: `${fmt(mean(first.map((f) => f.requests)))} requests per flush, counted at the SDK`,
      },
      {
        section: SECTION,
        measure: `heavy user's hour: documents read / written per flush, last 10 flushes (hour holds ${n - perFlush * 10} records)`,
        value: `${fmt(mean(last.map((f) => f.documentsRead)))} / ${fmt(mean(last.map((f) => f.documentsWritten)))}`,
        note: `${fmt(mean(last.map((f) => f.requests)))} requests per flush`,
      },
      {
        section: SECTION,
        measure: `estimated RU per record, heavy user steady state (flush of ${perFlush})`,
        value: `${fmt(ruPerRecord)} RU`,
        note: `records alone: ${fmt(aloneRuPerRecord)} RU; ratio ${fmt(ruPerRecord / aloneRuPerRecord)}x (published RU model, see How each figure is measured)`,
      },
    );

    // A light user: one record per flush (the rollup increments are not shared).
    const light = userRecords("light", 60, Date.UTC(2036, 5, 1, 12), 60_000, 2);
    meter.reset();
    for (const r of light) await store.append([r]);
    const lightRu = meter.reset().ru / light.length;
    const lightAlone = recordsRu(light) / light.length;
    rows.push({
      section: SECTION,
      measure: "estimated RU per record, one record per flush",
      value: `${fmt(lightRu)} RU`,
      note: `records alone: ${fmt(lightAlone)} RU; ratio ${fmt(lightRu / lightAlone)}x`,
    });

    // Per-user 30 days: whole days from day rollups, edge hours from hour rollups, partial hours raw.
    const month = userRecords("month", quick ? 800 : 1500, Date.UTC(2036, 6, 1), 29 * 60_000, 3);
    for (let i = 0; i < month.length; i += 100) await store.append(month.slice(i, i + 100));
    meter.reset();
    const start = new Date(Date.UTC(2036, 6, 2, 5, 17)).toISOString();
    const end = new Date(Date.UTC(2036, 6, 2, 5, 17) + 30 * DAY_MS).toISOString();
    await store.aggregate({ filter: { userId: "month", start, end }, groupBy: ["model"] });
    const read = meter.reset();
    const inRange = month.filter((r) => r.timestamp >= start && r.timestamp < end).length;
    rows.push({
      section: SECTION,
      measure: `per-user 30-day aggregate, range not hour-aligned (${inRange} records, activity in every hour)`,
      value: `${read.documentsRead} documents`,
      note: `${read.requests} requests; 720 hour rollups or ${inRange} raw records otherwise`,
    });
    await store.close();
  } finally {
    client.dispose();
    await server.close();
  }
  return rows;
}

if (process.argv[1]?.endsWith("cosmos-writes.ts")) {
  benchCosmosWrites(process.argv.includes("--quick")).then((rows) => {
    for (const r of rows) console.log(`| ${r.measure} | ${r.value} | ${r.note ?? ""} |`);
  });
}
