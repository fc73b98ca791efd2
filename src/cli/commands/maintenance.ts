/** `reprice`, `rebuild-rollups` and `prune`: maintenance of stored records. */
import type { Command } from "commander";
import { ValidationError } from "../../errors.js";
import { out, printJson, withMonitor } from "../context.js";
import { createProgress } from "../progress.js";
import { rangeFrom, wholeHistoryUnlessGiven } from "../range-options.js";

export function registerMaintenance(program: Command): void {
  program
    .command("reprice")
    .description("recompute stored costs with the current prices (idempotent)")
    .option("--start <date>", "ISO 8601 start (default: all history)")
    .option("--end <date>", "ISO 8601 end (default now)")
    .option("--user <id>", "only this user")
    .option("--json", "machine-readable output")
    .action(async (flags: { start?: string; end?: string; user?: string; json?: boolean }, command: Command) => {
      const range = wholeHistoryUnlessGiven(rangeFrom(flags));
      await withMonitor(command, async (monitor) => {
        const total = (await monitor.getOverallUsage({ ...range, userId: flags.user })).totalRequests;
        const progress = createProgress("reprice", total);
        try {
          const result = await monitor.repriceUsage({ ...range, userId: flags.user, onProgress: (p) => progress.update(p.processed) });
          if (flags.json) printJson(result);
          else out(`repriced ${result.processed} records, ${result.changed} changed`);
        } finally {
          progress.stop();
        }
      });
    });

  program
    .command("rebuild-rollups")
    .description("recompute the hourly rollups from the raw records")
    .option("--json", "machine-readable output")
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withMonitor(command, async (monitor) => {
        const progress = createProgress("rebuild-rollups", 1);
        const started = Date.now();
        try {
          await monitor.rebuildRollups();
          progress.update(1);
        } finally {
          progress.stop();
        }
        const result = { rebuilt: true, ms: Date.now() - started };
        if (flags.json) printJson(result);
        else out(`rollups rebuilt in ${result.ms} ms`);
      });
    });

  program
    .command("prune")
    .description("delete raw records older than a date")
    .requiredOption("--before <date>", "ISO 8601 date; records before it are deleted")
    .option("--user <id>", "only this user")
    .option("--json", "machine-readable output")
    .action(async (flags: { before: string; user?: string; json?: boolean }, command: Command) => {
      if (Number.isNaN(Date.parse(flags.before))) throw new ValidationError("before", `must be an ISO 8601 date, got ${JSON.stringify(flags.before)}`);
      await withMonitor(command, async (monitor) => {
        const result = await monitor.pruneUsage({ before: flags.before, userId: flags.user });
        if (flags.json) printJson(result);
        else out(`removed ${result.removed} records older than ${new Date(flags.before).toISOString()}`);
      });
    });
}
