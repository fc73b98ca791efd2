/**
 * What OpenTelemetry metrics add per stored record: the writer's `onWritten` listener,
 * timed on batches of 1,000 records, interleaved round by round:
 * - no telemetry (an empty listener, the baseline);
 * - telemetry with `@opentelemetry/api` installed and no SDK registered (the default for
 *   an application that does not use OpenTelemetry: the API's no-op provider);
 * - telemetry without `@opentelemetry/api` installed;
 * - telemetry reporting to the real SDK MeterProvider (what "on" costs), for scale;
 * and, for scale too, one SQLite transaction writing the same 1,000 records.
 */
import { metrics } from "@opentelemetry/api";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { buildRecord } from "../src/record/build-record.js";
import type { UsageRecord } from "../src/record/types.js";
import { createPricer } from "../src/pricing/index.js";
import { SqliteUsageStore } from "../src/stores/sqlite/index.js";
import { UsageTelemetry } from "../src/telemetry/index.js";
import { fmt, median, type Row } from "./stats.js";

function records(n: number, round: number): UsageRecord[] {
  const pricer = createPricer();
  const models = ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5"];
  return Array.from({ length: n }, (_, i) =>
    buildRecord(
      {
        id: `r${round}-${i}`,
        userId: `user-${i % 50}`,
        threadId: `thread-${i % 200}`,
        agentName: i % 2 ? "support" : "research",
        provider: i % 3 === 2 ? "anthropic" : "openai",
        model: models[i % 3],
        inputTokens: 1000 + i,
        outputTokens: 100 + (i % 50),
        cacheReadTokens: i % 4 ? 512 : 0,
        latencyMs: 300 + (i % 700),
      },
      pricer,
    ),
  );
}

/** Nanoseconds from handing a batch to the listener until it has reported all of it. */
async function time(listener: (records: readonly UsageRecord[], inserted: number) => void, telemetry: UsageTelemetry | null, batch: UsageRecord[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  listener(batch, batch.length);
  if (telemetry) await telemetry.idle();
  return Number(process.hrtime.bigint() - t0);
}

export async function benchTelemetry(rounds = 40, batch = 1000): Promise<Row[]> {
  metrics.disable(); // the API's no-op provider, as in a process without an SDK
  const noSdk = new UsageTelemetry();
  const noApi = new UsageTelemetry({ importApi: () => Promise.reject(new Error("not installed")) });
  // A reader, as a real set-up has (its export interval is never reached during the run).
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const sdk = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })] });
  const on = new UsageTelemetry({ meterProvider: sdk });
  await Promise.all([noSdk.ready(), noApi.ready()]);
  const empty = (_records: readonly UsageRecord[], _inserted: number): void => undefined;
  const store = new SqliteUsageStore({ path: ":memory:" });
  const samples = { empty: [] as number[], noSdk: [] as number[], noApi: [] as number[], on: [] as number[], sqlite: [] as number[] };
  for (let round = 0; round < rounds + 5; round++) {
    const batchRecords = records(batch, round);
    const measured = {
      empty: await time(empty, null, batchRecords),
      noSdk: await time(noSdk.onWritten, noSdk, batchRecords),
      noApi: await time(noApi.onWritten, noApi, batchRecords),
      on: await time(on.onWritten, on, batchRecords),
    };
    const t0 = process.hrtime.bigint();
    await store.append(batchRecords);
    const sqlite = Number(process.hrtime.bigint() - t0);
    if (round < 5) continue; // warm-up
    for (const [k, v] of Object.entries(measured)) samples[k as keyof typeof measured].push(v / batch);
    samples.sqlite.push(sqlite / batch);
  }
  await store.close();
  await sdk.shutdown();
  if (noSdk.reporting || noApi.reporting || !on.reporting) throw new Error("bench: telemetry not in the expected state");
  const section = "OpenTelemetry metrics";
  const ns = (xs: number[]) => `${fmt(median(xs))} ns`;
  return [
    { section, measure: "no telemetry (empty listener), per stored record", value: ns(samples.empty), note: "batches of 1,000, median of 40" },
    { section, measure: "telemetry on, @opentelemetry/api without an SDK (no-op), per record", value: ns(samples.noSdk), note: "the default for apps without OpenTelemetry" },
    { section, measure: "telemetry on, @opentelemetry/api not installed, per record", value: ns(samples.noApi) },
    { section, measure: "telemetry to the SDK MeterProvider, per record", value: ns(samples.on), note: "4 or 5 histogram/counter points per record, an in-memory reader attached" },
    { section, measure: "for scale: SQLite append of the same records, per record", value: ns(samples.sqlite), note: "in-process, one transaction per batch" },
  ];
}
