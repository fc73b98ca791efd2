import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import { attachTokenTracking, createTokenMonitor, SqliteUsageStore, SqliteWorkerStore } from "../../src/index.js";

describe("a monitor on the worker-thread SQLite store", () => {
  it("is chosen by TOKEN_USAGE_SQLITE_WORKER and tracks, queries and closes like the in-process one", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "tt-worker-monitor-")), "usage.db");
    const monitor = createTokenMonitor({ sqlitePath: path, env: { TOKEN_USAGE_SQLITE_WORKER: "true" }, budget: false });
    expect(monitor.store).toBeInstanceOf(SqliteWorkerStore);
    const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
    for (let i = 0; i < 3; i++) await model.invoke(`hello ${i}`, attachTokenTracking({ configurable: { user_id: "w", thread_id: "wt" } }, { monitor }));
    await monitor.flush();
    const stats = await monitor.getThreadUsage("wt");
    expect(stats.totalRequests).toBe(3);
    expect(stats.totalCostNanos).toBeGreaterThan(0);
    await monitor.close();
    // Another monitor, in-process this time, reads the same file.
    const reader = createTokenMonitor({ sqlitePath: path, env: { TOKEN_USAGE_SQLITE_WORKER: "false" }, budget: false });
    expect(reader.store).toBeInstanceOf(SqliteUsageStore);
    expect((await reader.getUserUsage("w")).totalRequests).toBe(3);
    await reader.close();
  });

  it("is the default for a file, not for :memory:", async () => {
    const file = createTokenMonitor({ sqlitePath: join(mkdtempSync(join(tmpdir(), "tt-default-")), "u.db"), env: {}, budget: false });
    const memory = createTokenMonitor({ sqlitePath: ":memory:", env: {}, budget: false });
    expect(file.store).toBeInstanceOf(SqliteWorkerStore);
    expect(memory.store).toBeInstanceOf(SqliteUsageStore);
    await file.close();
    await memory.close();
  });
});
