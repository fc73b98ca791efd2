/** `serve`: the REST API, `/docs` and the dashboard, until SIGINT or SIGTERM. */
import type { Command } from "commander";
import { ValidationError } from "../../errors.js";
import { hasApiKeys } from "../../server/auth/api-keys.js";
import { startServer } from "../../server/start-server.js";
import { closeBudget, openBudget } from "../budget.js";
import { openMonitor, out } from "../context.js";

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the REST API and dashboard")
    .option("--port <port>", "TCP port (0 picks a free one)", "8787")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .action(async (flags: { port: string; host: string }, command: Command) => {
      const port = Number(flags.port);
      if (!/^\d+$/.test(flags.port) || port > 65_535) throw new ValidationError("port", `must be 0-65535, got ${JSON.stringify(flags.port)}`);
      const monitor = openMonitor(command);
      let budget: Awaited<ReturnType<typeof openBudget>>;
      try {
        budget = await openBudget(monitor);
        const server = await startServer({ monitor, budget, port, host: flags.host });
        // Listening for the stop signal before anything else is awaited: a signal that came
        // during the key check below would otherwise end the process without closing it.
        const stopped = new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
        out(`token-usage API listening on ${server.url} (dashboard ${server.url}/, docs ${server.url}/docs)`);
        if (!process.env.TOKEN_USAGE_ADMIN_KEY && !(await hasApiKeys(monitor.store))) {
          process.stderr.write("note: no API key is configured, so every API call is refused: set TOKEN_USAGE_ADMIN_KEY or run `token-usage keys create --user <id>`\n");
        }
        await stopped;
        await server.close();
      } finally {
        closeBudget(budget!);
        await monitor.close();
      }
    });
}
