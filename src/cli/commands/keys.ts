/**
 * `keys create|list|revoke`: user-scoped API keys for the REST API and dashboard.
 * The key value is printed once at creation; only its hash is stored.
 */
import type { Command } from "commander";
import { ValidationError } from "../../errors.js";
import { createApiKey, listApiKeys, revokeApiKey } from "../../server/auth/api-keys.js";
import { out, printJson, withMonitor } from "../context.js";
import { table } from "../output.js";

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("manage user-scoped API keys");

  keys
    .command("create")
    .description("create a key that sees only one user's usage")
    .requiredOption("--user <id>", "the user the key belongs to")
    .option("--label <text>", "a note to recognise the key by")
    .option("--json", "machine-readable output")
    .action(async (flags: { user: string; label?: string; json?: boolean }, command: Command) => {
      await withMonitor(command, async (monitor) => {
        const { key, info } = await createApiKey(monitor.store, { userId: flags.user, label: flags.label });
        if (flags.json) return printJson({ ...info, key });
        out(`created key ${info.keyId} for user ${info.userId}`);
        out(`key: ${key}`);
        out("This is the only time the key is shown; store it now.");
      });
    });

  keys
    .command("list")
    .description("list keys (ids, users and last four characters; never the keys)")
    .option("--json", "machine-readable output")
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withMonitor(command, async (monitor) => {
        const list = await listApiKeys(monitor.store);
        if (flags.json) return printJson(list);
        if (list.length === 0) return out("No API keys.");
        out(table(["Key id", "User", "Ends with", "Label", "Created"], list.map((k) => [k.keyId, k.userId, k.last4, k.label ?? "", k.createdAt]), 99));
      });
    });

  keys
    .command("revoke")
    .description("revoke a key at once")
    .argument("<keyId>", "the key id shown by `keys list`")
    .action(async (keyId: string, _flags: unknown, command: Command) => {
      await withMonitor(command, async (monitor) => {
        if (!(await revokeApiKey(monitor.store, keyId))) throw new ValidationError("keyId", `no API key with id ${JSON.stringify(keyId)}`);
        out(`revoked key ${keyId}`);
      });
    });
}
