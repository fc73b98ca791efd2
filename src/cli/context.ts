/**
 * What every command shares: the monitor opened from the same environment as the
 * library (`--db` overrides TOKEN_USAGE_DB), the output streams, and the rule that
 * turns failures into exit codes (2 for usage and validation, 1 for the rest).
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { InvalidCursorError, ValidationError } from "../errors.js";
import { createTokenMonitor, type TokenMonitoringService } from "../monitor/token-monitor.js";
import type { Logger } from "../writer/buffered-writer.js";
import { announceStore, storeTarget } from "./store-notice.js";

export interface GlobalOptions {
  db?: string;
}

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {}

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

const stderrLogger: Logger = {
  warn: (m) => process.stderr.write(`warning: ${m}\n`),
  error: (m) => process.stderr.write(`error: ${m}\n`),
};

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export function openMonitor(command: Command): TokenMonitoringService {
  const { db } = globalOptions(command);
  announceStore(storeTarget(db));
  return createTokenMonitor({
    ...(db ? { store: "sqlite" as const, sqlitePath: resolve(db) } : {}),
    logger: stderrLogger,
  });
}

/** Runs `fn` with a monitor and always closes it (flushing what was tracked). */
export async function withMonitor<T>(command: Command, fn: (monitor: TokenMonitoringService) => Promise<T>): Promise<T> {
  const monitor = openMonitor(command);
  try {
    return await fn(monitor);
  } finally {
    await monitor.close();
  }
}

export function exitCodeFor(error: unknown): number {
  return error instanceof UsageError || error instanceof ValidationError || error instanceof InvalidCursorError ? EXIT_USAGE : EXIT_RUNTIME;
}

/** One line on stderr, whatever the error. */
export function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `token-usage: ${message.split("\n")[0]}`;
}

export function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}
