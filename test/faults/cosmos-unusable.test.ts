/**
 * A Cosmos DB account that refuses the credentials (401) or the operation (403, e.g. a
 * missing data-plane role), answered by the extended local server's fault hooks while an
 * agent makes model calls: the calls succeed, the failure is reported once naming the
 * container and the service's answer, the records go to the spill journal, the store is
 * retried at the slow pace for unusable stores (not the fast backoff for a busy account),
 * and once the account takes writes again every record is stored exactly once.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import { FlushTimeoutError, StoreUnusableError } from "../../src/errors.js";
import { attachTokenTracking } from "../../src/handler/attach.js";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { CosmosUsageStore } from "../../src/stores/cosmos/index.js";
import { startLocalCosmos, type LocalCosmos } from "../support/cosmos-server.js";
import { COSMOS_SDK_CHOICE, importCosmosSdk } from "../support/cosmos-sdk.js";
import { captureLog, journaled } from "./support/log-capture.js";

let local: LocalCosmos;
beforeAll(async () => {
  local = await startLocalCosmos();
});
afterAll(async () => {
  await local?.close();
});

/** The slow pace of an unusable store in this test (the default is 60 s). */
const UNUSABLE_RETRY_MS = 2500;

async function storedUsageIds(containerId: string): Promise<string[]> {
  const container = local.client().database(local.databaseId).container(containerId);
  const { resources } = await container.items.query<{ id: string }>("SELECT c.id FROM c WHERE c.type = 'usage'").fetchAll();
  return resources.map((d) => d.id);
}

/** A monitor writing to `containerId` through the store, with fast retries for a busy account and a short slow pace. */
function monitorOn(containerId: string, spillDir: string, logger: ReturnType<typeof captureLog>["logger"], env: Record<string, string> = {}) {
  return createTokenMonitor({
    store: new CosmosUsageStore({ client: local.client(), databaseId: local.databaseId, containerId, baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 4 }, importCosmosSdk),
    env,
    writer: { flushIntervalMs: 20, retryDelayMs: 20, maxRetryDelayMs: 200, unusableRetryDelayMs: UNUSABLE_RETRY_MS, spillDir },
    logger,
  });
}

const CASES = [
  { status: 401, subStatus: undefined, says: /refused the credentials \(401 Unauthorized\)/ },
  { status: 403, subStatus: 5301, says: /refused the operation \(403 Forbidden, substatus 5301\)/ },
] as const;

describe("a Cosmos DB account that refuses this client", () => {
  it.each(CASES)("answering $status: calls succeed, one report naming the container, records journaled, retried at the slow pace, stored once after", async ({ status, subStatus, says }) => {
    const containerId = local.uniqueContainerId(`refused${status}`);
    const spillDir = mkdtempSync(join(tmpdir(), "tt-cosmos-unusable-"));
    const log = captureLog();
    const monitor = monitorOn(containerId, spillDir, log.logger);
    const model = new ScriptedChatModel();
    const config = attachTokenTracking({ configurable: { user_id: "alice", thread_id: "t1" } }, { monitor });
    await model.invoke("before", config);
    await monitor.flush();
    expect(await storedUsageIds(containerId)).toHaveLength(1);

    // From now on every request is refused (the key was rotated, the role removed).
    local.faults.failNext("any", 1_000_000, { status, ...(subStatus !== undefined ? { subStatus } : {}) });
    try {
    for (let i = 0; i < 5; i++) expect(typeof (await model.invoke(`during ${i}`, config)).content).toBe("string");
    const failure = await monitor.flush({ timeoutMs: 20_000 }).then(() => null, (e: unknown) => e);
    // The flush gives up at once with the reason (not after its 20 s timeout), and says where the records are.
    expect(failure).toBeInstanceOf(FlushTimeoutError);
    const f = failure as FlushTimeoutError;
    expect(f.message).toMatch(/^5 token usage records not yet stored \(/);
    expect(f.message).toContain(`${local.databaseId}/${containerId}`);
    expect(f).toMatchObject({ spilled: 5, atRisk: 0, journal: spillDir });
    expect(journaled(spillDir)).toHaveLength(5);

    // One report, naming the container and the service's answer, with no per-request ids in it.
    const reports = log.unusable();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain(`Cosmos DB container ${local.databaseId}/${containerId}`);
    expect(reports[0]).toMatch(says);
    expect(reports[0]).toContain(`Injected fault: ${status}`);
    expect(reports[0]).toMatch(/tried again every 3 s/);

    // The slow pace: within a second of the report, no new attempt reaches the account
    // (a busy account's backoff, 20 ms doubling, would have tried several times).
    const refusedBefore = local.ops.faulted;
    await new Promise((r) => setTimeout(r, 1000));
    expect(local.ops.faulted).toBe(refusedBefore);

    // More calls and another flush: still one report.
    await model.invoke("still refused", config);
    await monitor.flush({ timeoutMs: 20_000 }).catch(() => undefined);
    expect(log.unusable()).toHaveLength(1);

    // The error itself, from the store: a StoreUnusableError naming the container.
    const direct = new CosmosUsageStore({ client: local.client(), databaseId: local.databaseId, containerId, maxAttempts: 4 }, importCosmosSdk);
    const thrown = await direct.getSetting("budget-limits", "any").then(() => null, (e: unknown) => e);
    expect(thrown).toBeInstanceOf(StoreUnusableError);
    expect(thrown).toMatchObject({ code: "ERR_STORE_UNUSABLE", location: `Cosmos DB container ${local.databaseId}/${containerId}` });
    await direct.close();

    } finally {
      // The account takes writes again.
      local.faults.clear();
    }
    // A flush tries the store at once: the journal and the memory are stored, once each.
    await monitor.flush({ timeoutMs: 20_000 });
    const ids = await storedUsageIds(containerId);
    expect(ids).toHaveLength(7);
    expect(new Set(ids).size).toBe(7);
    expect(journaled(spillDir)).toEqual([]);
    expect(log.lines.some((l) => l.message.includes("writes succeed again"))).toBe(true);
    await monitor.close();
  }, 60_000);

  // A principal that may read but not write (a read-only data role): only the transactional
  // batches of a flush are refused. SDK 4.10+ keeps the service's status as the batch error's
  // cause, so this is an unusable store too; 4.9 keeps no status, so the store cannot tell it
  // from a busy account and retries it with the backoff (records are kept either way).
  it(`only writes refused (403 on batches), SDK ${COSMOS_SDK_CHOICE}: records kept, and reported as unusable where the SDK keeps the status`, async () => {
    const containerId = local.uniqueContainerId("refused-writes");
    const spillDir = mkdtempSync(join(tmpdir(), "tt-cosmos-unusable-"));
    const log = captureLog();
    const monitor = monitorOn(containerId, spillDir, log.logger);
    const model = new ScriptedChatModel();
    const config = attachTokenTracking({ configurable: { user_id: "w" } }, { monitor });
    await model.invoke("before", config);
    await monitor.flush();
    local.faults.failNext("batch", 1_000_000, { status: 403, subStatus: 5301 });
    try {
      for (let i = 0; i < 3; i++) await model.invoke(`during ${i}`, config);
      const failure = await monitor.flush({ timeoutMs: 3000 }).then(() => null, (e: unknown) => e);
      expect(failure).toBeInstanceOf(FlushTimeoutError);
      if (COSMOS_SDK_CHOICE === "latest") {
        expect((failure as Error).message).toMatch(/batch write failed: the account refused the operation \(403 Forbidden, substatus 5301\)/);
        expect(log.unusable()).toHaveLength(1);
      } else {
        expect((failure as Error).message).toMatch(/within 3000 ms/);
        expect(log.unusable()).toEqual([]);
        expect(log.lines.some((l) => l.message.includes("token usage write failed"))).toBe(true);
      }
    } finally {
      local.faults.clear();
    }
    await monitor.flush({ timeoutMs: 20_000 });
    const ids = await storedUsageIds(containerId);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
    await monitor.close();
  }, 60_000);

  it("a budget guard on the refused account lets calls through, with each kind of budget warning written once", async () => {
    const containerId = local.uniqueContainerId("refused-budget");
    const log = captureLog();
    const monitor = monitorOn(containerId, mkdtempSync(join(tmpdir(), "tt-cosmos-unusable-")), log.logger, { BUDGET_ENFORCEMENT: "block", DAILY_TOKEN_BUDGET: "100000" });
    // Limits read while the account still answers; then it refuses everything.
    await monitor.budget!.listLimits();
    local.faults.failNext("any", 1_000_000, { status: 401 });
    const model = new ScriptedChatModel();
    const config = attachTokenTracking({ configurable: { user_id: "b" } }, { monitor });
    try {
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 5; i++) expect(typeof (await model.invoke(`call ${round}.${i}`, config)).content).toBe("string");
        // Past the limits' 2 s refresh: the re-read fails too.
        if (round === 0) await new Promise((r) => setTimeout(r, 2200));
      }
    } finally {
      local.faults.clear();
    }
    const budgetLines = log.lines.map((l) => l.message).filter((m) => m.includes("budget"));
    expect(budgetLines.length).toBeGreaterThan(0);
    expect(budgetLines.some((m) => m.includes(`Cosmos DB container ${local.databaseId}/${containerId}`) && m.includes("401 Unauthorized"))).toBe(true);
    const kinds = budgetLines.map((m) => m.split(":")[0]);
    expect(kinds.length, budgetLines.join("\n")).toBe(new Set(kinds).size);
    await monitor.flush({ timeoutMs: 20_000 });
    expect(await storedUsageIds(containerId)).toHaveLength(10);
    await monitor.close();
  }, 60_000);
});
