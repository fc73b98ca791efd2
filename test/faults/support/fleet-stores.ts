/**
 * The store of a fleet test as the parent process opens it (to set limits and read what
 * the children did): SQLite at a path, or a container on the local Cosmos server.
 */
import { createBudgetedMonitor } from "../../../src/budget/index.js";
import type { LocalCosmos } from "../../support/cosmos-server.js";
import { quietLogger } from "./children.js";

export type StoreArgs = { store: "sqlite"; path: string } | { store: "cosmos"; endpoint: string; key: string; databaseId: string; containerId: string };

/** A budgeted monitor on `args`; `shift` moves its guard's clock (ms from now). */
export function budgetedMonitorFor(args: StoreArgs, cosmos: LocalCosmos, shift = 0) {
  return createBudgetedMonitor({
    env: {},
    logger: quietLogger,
    ...(args.store === "sqlite"
      ? { store: "sqlite" as const, sqlitePath: args.path }
      : { store: "cosmos" as const, cosmos: { client: cosmos.client(), databaseId: args.databaseId, containerId: args.containerId, createIfMissing: true } }),
    budget: { logger: quietLogger, ...(shift !== 0 ? { now: () => new Date(Date.now() + shift) } : {}) },
  });
}
