/** The `token-usage` command tree and the rule mapping failures to exit codes. */
import { Command, CommanderError } from "commander";
import { registerDemo } from "./commands/demo.js";
import { registerExport } from "./commands/export.js";
import { registerImport } from "./commands/import.js";
import { registerKeys } from "./commands/keys.js";
import { registerLimits } from "./commands/limits.js";
import { registerMaintenance } from "./commands/maintenance.js";
import { registerServe } from "./commands/serve.js";
import { registerStatus } from "./commands/status.js";
import { registerSummary } from "./commands/summary.js";
import { EXIT_OK, EXIT_USAGE, errorLine, exitCodeFor } from "./context.js";
import { packageVersion } from "./version.js";

export function buildProgram(): Command {
  const program = new Command("token-usage")
    .description("Token usage and cost of LangChain.js model calls: reports, budgets, import/export, API server")
    .version(packageVersion(), "-V, --version", "print the version")
    .option("--db <path>", "SQLite file (overrides TOKEN_USAGE_DB)")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (const register of [registerSummary, registerStatus, registerLimits, registerExport, registerImport, registerMaintenance, registerServe, registerDemo, registerKeys]) {
    register(program);
  }
  // Subcommands inherit the override so a usage error never calls process.exit itself.
  const inherit = (command: Command) => {
    for (const sub of command.commands) {
      sub.exitOverride();
      sub.showHelpAfterError(false);
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

/** Runs the CLI and resolves with its exit code (0 ok, 1 runtime error, 2 usage or validation error). */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its one-line message (or the help).
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    process.stderr.write(`${errorLine(error)}\n`);
    return exitCodeFor(error);
  }
}
