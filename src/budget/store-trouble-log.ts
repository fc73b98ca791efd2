/**
 * The guard's warnings about a store it cannot read or write (limits, counters, lease
 * renewals). A store that is down or unusable fails every refresh (every 2 s) and every
 * report (every 250 ms): one line each would flood the application's log, so each kind
 * of warning (its text up to the first colon) is written at most once per interval,
 * saying how many were held back. Budget refusals and warn-mode warnings do not go here.
 */
import type { Logger } from "../writer/buffered-writer.js";

export function troubleLogger(logger: Logger, intervalMs = 60_000, clock: () => number = Date.now): Logger {
  const last = new Map<string, { at: number; held: number }>();
  const limited = (level: "warn" | "error") => (message: string) => {
    const kind = message.split(":")[0];
    const now = clock();
    const seen = last.get(kind);
    if (seen && now - seen.at < intervalMs) {
      seen.held++;
      return;
    }
    last.set(kind, { at: now, held: 0 });
    const held = seen && seen.held > 0 ? ` (${seen.held} more like this in the last ${Math.round((now - seen.at) / 1000)} s)` : "";
    logger[level](message + held);
  };
  return { ...logger, warn: limited("warn"), error: limited("error") };
}
