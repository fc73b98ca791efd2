/**
 * Where an example keeps its records: `TOKEN_USAGE_DB` when it is set, otherwise a
 * fresh SQLite file in a new temp folder that is removed when the process exits.
 * An example never writes into the default `.token-usage/usage.db`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function exampleDbPath(name: string): string {
  const fromEnv = process.env.TOKEN_USAGE_DB;
  if (fromEnv) return fromEnv;
  const dir = mkdtempSync(join(tmpdir(), `token-usage-${name}-`));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "usage.db");
}

/** Dollars with enough digits for the fractions of a cent single calls cost. */
export function usd(amount: number): string {
  return `$${amount.toFixed(6)}`;
}
