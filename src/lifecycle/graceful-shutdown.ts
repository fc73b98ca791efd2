/**
 * Opt-in graceful shutdown: on SIGTERM or SIGINT (a container stop, Ctrl-C), wait a
 * bounded time for every tracked record to reach the store, close the monitors, then
 * end the process the way the signal would have, so supervisors see the usual status.
 *
 * Why opt-in: installing a signal listener replaces Node's default "die at once", which
 * is the application's decision, not a library's. Why bounded: an orchestrator kills the
 * process after its grace period anyway (Kubernetes: 30 s); records the store did not
 * take in time stay in the spill journal or are reported as lost, never waited on forever.
 */
import { constants } from "node:os";
import type { Logger } from "../writer/buffered-writer.js";

/** What shutdown needs from a monitor; `TokenMonitoringService` fits. */
export interface ShutdownTarget {
  /** Flushes (rejecting after `timeoutMs`) and releases the store. */
  close(options?: { timeoutMs?: number }): Promise<void>;
  /** Present on the monitor; read to report what could not be stored in time. */
  readonly writer?: { readonly pending: number; spillAll?(): number };
}

export interface GracefulShutdownOptions {
  /** @default ["SIGTERM", "SIGINT"] */
  signals?: NodeJS.Signals[];
  /** Time for all monitors together to flush and close. @default 10000 */
  timeoutMs?: number;
  /**
   * End the process after closing: the signal is raised again when no other listener
   * wants it (exit status "killed by SIGTERM"), else `process.exit(128 + signal number)`.
   * False leaves ending the process to the application. @default true
   */
  exit?: boolean;
  logger?: Logger;
  /** Called once the monitors are closed (or gave up), before the process ends. */
  onShutdown?: (outcome: ShutdownOutcome) => void;
}

export interface ShutdownOutcome {
  signal: NodeJS.Signals;
  /** Records still not in the store when shutdown gave up (0 on a clean shutdown). */
  unstored: number;
  errors: Error[];
}

/**
 * Installs the signal listeners and returns a function that removes them. A second
 * signal during shutdown ends the process at once, as a user pressing Ctrl-C twice expects.
 */
export function installGracefulShutdown(
  monitors: ShutdownTarget | ShutdownTarget[],
  options: GracefulShutdownOptions = {},
): () => void {
  const targets = Array.isArray(monitors) ? [...monitors] : [monitors];
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const timeoutMs = options.timeoutMs ?? 10_000;
  const exit = options.exit ?? true;
  const logger = options.logger ?? consoleLogger;
  let shuttingDown = false;

  const onSignal = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      if (exit) process.exit(exitCodeOf(signal));
      return;
    }
    shuttingDown = true;
    void shutdownMonitors(targets, signal, timeoutMs).then((outcome) => {
      for (const error of outcome.errors) safeLog(logger, "error", `shutdown on ${signal}: ${error.message}`);
      if (outcome.unstored > 0) {
        safeLog(logger, "error", `shutdown on ${signal}: ${outcome.unstored} usage records were not stored within ${timeoutMs} ms (kept in the spill journal for the next start)`);
      }
      uninstall();
      try {
        options.onShutdown?.(outcome);
      } catch (error) {
        safeLog(logger, "error", `onShutdown failed: ${asError(error).message}`);
      }
      if (exit) endProcess(signal);
    });
  };

  const uninstall = (): void => {
    for (const signal of signals) process.removeListener(signal, onSignal);
  };
  for (const signal of signals) process.on(signal, onSignal);
  return uninstall;
}

/** Closes every target in parallel within one deadline; never rejects. */
export async function shutdownMonitors(targets: ShutdownTarget[], signal: NodeJS.Signals, timeoutMs: number): Promise<ShutdownOutcome> {
  const errors: Error[] = [];
  let timer: NodeJS.Timeout | undefined;
  // close() applies the timeout to its flush; this deadline also bounds a store that hangs in close.
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs + 250);
  });
  const closing = Promise.allSettled(targets.map((t) => t.close({ timeoutMs }))).then((results) => {
    for (const r of results) if (r.status === "rejected") errors.push(asError(r.reason));
  });
  const finished = await Promise.race([closing.then(() => "done" as const), deadline]);
  clearTimeout(timer);
  if (finished === "timeout") errors.push(new Error(`closing the usage monitors took longer than ${timeoutMs} ms`));
  // What the store did not take in time goes to the spill journal: the next start replays it.
  for (const t of targets) {
    try {
      t.writer?.spillAll?.();
    } catch (error) {
      errors.push(asError(error));
    }
  }
  let unstored = 0;
  for (const t of targets) unstored += readPending(t);
  return { signal, unstored, errors };
}

function endProcess(signal: NodeJS.Signals): void {
  // Re-raising gives the parent the true cause ("killed by SIGTERM"); it only works when
  // nobody else listens, otherwise that listener would swallow it.
  if (process.listenerCount(signal) === 0 && process.platform !== "win32") {
    process.kill(process.pid, signal);
    // The default action normally ends the process before this timer fires.
    setTimeout(() => process.exit(exitCodeOf(signal)), 1000).unref();
    return;
  }
  process.exit(exitCodeOf(signal));
}

/** The shell convention: 128 + the signal number (SIGTERM -> 143, SIGINT -> 130). */
export function exitCodeOf(signal: NodeJS.Signals): number {
  const n = (constants.signals as Record<string, number | undefined>)[signal];
  return 128 + (n ?? 15);
}

function readPending(target: ShutdownTarget): number {
  try {
    const n = target.writer?.pending;
    return typeof n === "number" && Number.isFinite(n) ? n : 0;
  } catch {
    return 0;
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function safeLog(logger: Logger, level: "warn" | "error", message: string): void {
  try {
    logger[level](message);
  } catch {
    // A broken logger must not stop the shutdown.
  }
}

const consoleLogger: Logger = {
  warn: (m) => console.warn(`[token-tracking] ${m}`),
  error: (m) => console.error(`[token-tracking] ${m}`),
};
