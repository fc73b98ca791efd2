/**
 * How the writer speaks about failures. A store that is down fails every retry and a
 * full disk fails every spill: one line per attempt would flood the application's log
 * (tens of lines a second) and hide everything else. Each kind of message is written at
 * once the first time, then at most once per interval, with how many were held back.
 * An unusable store (not a database, read-only, a newer schema) is reported once, in
 * full, until it recovers.
 */
export interface Logger {
  debug?(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** True for an error that says retrying soon cannot help (see StoreUnusableError). */
/** The default logger: the console, prefixed. */
export const consoleLogger: Logger = {
  warn: (m) => console.warn(`[token-tracking] ${m}`),
  error: (m) => console.error(`[token-tracking] ${m}`),
};

export function isPermanent(error: unknown): boolean {
  return (error as { permanent?: unknown } | null)?.permanent === true;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class FailureLog {
  private readonly last = new Map<string, { at: number; held: number }>();
  /** The message of the unusable-store failure already reported, until the store recovers. */
  private unusable: string | null = null;
  private failing = false;

  constructor(
    private readonly logger: Logger,
    /** @default 30000 */
    private readonly intervalMs = 30_000,
  ) {}

  /** Writes `message` unless one of the same `kind` was written within the interval. */
  report(kind: string, level: "warn" | "error", message: string): void {
    const now = Date.now();
    const seen = this.last.get(kind);
    if (seen && now - seen.at < this.intervalMs) {
      seen.held++;
      return;
    }
    const held = seen?.held ?? 0;
    this.last.set(kind, { at: now, held: 0 });
    const suffix = held > 0 ? ` (${held} more like this in the last ${Math.round((now - seen!.at) / 1000)} s)` : "";
    safe(this.logger, level, message + suffix);
  }

  /** A failed store write: an unusable store once in full, other failures rate-limited. */
  storeFailed(error: unknown, detail: string): void {
    this.failing = true;
    if (isPermanent(error)) {
      const message = messageOf(error);
      if (this.unusable === message) return;
      this.unusable = message;
      safe(this.logger, "error", `token usage cannot be stored: ${message}. ${detail}`);
      return;
    }
    this.report("store", "warn", `token usage write failed (${detail}): ${messageOf(error)}`);
  }

  /** A write succeeded: says so once if failures were reported, and re-arms the reports. */
  storeRecovered(pending: number): void {
    if (!this.failing) return;
    this.failing = false;
    this.unusable = null;
    this.last.delete("store");
    safe(this.logger, "warn", `token usage store writes succeed again; ${pending} records still to store`);
  }
}

function safe(logger: Logger, level: "warn" | "error", message: string): void {
  try {
    logger[level](message);
  } catch {
    // A broken logger must not break the writer.
  }
}
