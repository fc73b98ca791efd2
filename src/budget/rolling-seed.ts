/**
 * Seeds a process-local rolling window from the store's hourly aggregates, once, plus
 * the calls this process settled before the read was issued.
 */
import type { Logger } from "../writer/buffered-writer.js";
import type { BudgetMonitor } from "./guard-types.js";
import { pastUsageRows } from "./past-usage.js";
import type { SettledCalls } from "./reservations.js";
import { subjectFor } from "./scopes.js";
import { unitsOf } from "./tally.js";
import type { WindowTally } from "./window-tally.js";

export interface RollingSeedDeps {
  monitor: BudgetMonitor;
  settled: SettledCalls;
  clock: () => number;
  logger: Logger;
}

export function seedRolling(t: WindowTally, d: RollingSeedDeps): Promise<void> {
  t.seeding ??= (async () => {
    const seq = d.settled.seq;
    const now = d.clock();
    const start = Math.floor(t.window.start / 60_000) * 60_000;
    const byHour = await pastUsageRows(d.monitor, t, start, now + 60_000, true);
    for (const { at, units } of byHour) t.add(at, units);
    for (const c of d.settled.before(seq)) {
      if (subjectFor(t.limit, c.ctx) === t.subject && t.covers(c.at)) t.add(c.at, unitsOf(t.limit, c));
    }
    // No alert here: status reads seed too, and reading status never claims alerts.
    t.seeded = true;
  })().catch((error) => {
    // Fail open: a store outage must not stop every model call; the next check retries.
    t.seeding = null;
    d.logger.warn(`[token-tracking] budget "${t.limit.id}" could not read past usage: ${(error as Error).message}`);
  });
  return t.seeding;
}
