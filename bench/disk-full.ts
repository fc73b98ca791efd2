/**
 * Recovery after a full disk: the database and the spill journal on a small tmpfs filled
 * to the last byte while 15,000 model calls are tracked (bursts of 250 per event-loop turn,
 * as agents produce them), then the space is freed. Measured: what was kept and dropped,
 * how many log lines the outage cost, how long until every kept record is in the store,
 * with the writer's own retry (nothing calls flush) and with `flush()` called at once.
 * Mounting needs root on Linux; elsewhere the rows say why they are missing.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createTokenMonitor } from "../src/monitor/token-monitor.js";
import { fillFileSystem, isMounted, mountTmpfs } from "../test/faults/support/tmpfs.js";
import { fmt, type Row } from "./stats.js";

const section = "recovery after a full disk";

interface Outcome {
  kept: number;
  dropped: number;
  logLines: number;
  /** From freeing the space to the first successful write. */
  firstWriteMs: number;
  /** From freeing the space to the last kept record stored. */
  drainMs: number;
  /** Records per second from the first successful write to the last. */
  rate: number;
}

async function outage(dir: string, total: number, callFlush: boolean): Promise<Outcome> {
  mkdirSync(dir);
  let lines = 0;
  let firstWrite = 0;
  let written = 0;
  const monitor = createTokenMonitor({
    sqlitePath: join(dir, "usage.db"),
    env: {},
    logger: { warn: () => void lines++, error: () => void lines++ },
    writer: {
      spillDir: join(dir, "spill"),
      onWritten: (_records, inserted) => {
        if (written === 0 && inserted > 0) firstWrite = performance.now();
        written += inserted;
      },
    },
  });
  await monitor.store.append([]); // the schema exists before the disk fills
  const filler = fillFileSystem(dir);
  for (let n = 0; n < total; ) {
    for (let k = 0; k < 250; k++, n++) {
      await monitor.trackUsage({ id: `d-${n}`, userId: `u-${n % 50}`, provider: "openai", model: "gpt-4o-mini", inputTokens: 40, outputTokens: 8 });
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  // The disk stays full for 3 s more, long enough for the retry delay to grow.
  await new Promise((r) => setTimeout(r, 3000));
  const dropped = monitor.writer.stats.dropped;
  const logLines = lines;
  written = 0;
  rmSync(filler);
  const freed = performance.now();
  if (callFlush) await monitor.flush({ timeoutMs: 120_000 });
  else while (written < total - dropped && performance.now() - freed < 120_000) await new Promise((r) => setTimeout(r, 5));
  const done = performance.now();
  await monitor.close();
  return {
    kept: total - dropped,
    dropped,
    logLines,
    firstWriteMs: firstWrite - freed,
    drainMs: done - freed,
    rate: (total - dropped) / ((done - firstWrite) / 1000),
  };
}

export async function benchDiskFull(total = 15_000): Promise<Row[]> {
  const fs = mountTmpfs("64m");
  if (!isMounted(fs)) return [{ section, measure: "not measured", value: "-", note: fs.reason }];
  try {
    const own = await outage(join(fs.dir, "own"), total, false);
    const flushed = await outage(join(fs.dir, "flush"), total, true);
    const n = total.toLocaleString("en-US");
    return [
      {
        section,
        measure: `${n} calls on a full disk (store and journal refusing): kept / dropped / log lines`,
        value: `${own.kept.toLocaleString("en-US")} / ${own.dropped} / ${own.logLines}`,
        note: "default writer settings",
      },
      {
        section,
        measure: "space freed, the writer's own retry (no flush): first write / all stored",
        value: `${fmt(own.firstWriteMs / 1000, 2)} s / ${fmt(own.drainMs / 1000, 2)} s`,
        note: `${fmt(own.rate)} rec/s once writing`,
      },
      {
        section,
        measure: "space freed, then flush(): all stored",
        value: `${fmt(flushed.drainMs / 1000, 2)} s`,
        note: `${fmt(flushed.rate)} rec/s once writing`,
      },
    ];
  } finally {
    fs.unmount();
  }
}
