/**
 * Another process holds the SQLite write lock (BEGIN EXCLUSIVE) for 1.5 s while an
 * agent keeps calling its model. The agent must not notice beyond a few milliseconds:
 * writes fail fast (busy timeout 50 ms), the writer keeps the records and retries, and
 * after the lock is released every call's record is stored exactly once.
 */
import { mkdtempSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { HumanMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import { describe, expect, it } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import { attachTokenTracking } from "../../src/handler/attach.js";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { quietLogger, startFixture } from "./support/children.js";
import { percentile, readUsageFile } from "./support/sqlite-checks.js";

const LOCK_MS = 1500;

describe("SQLite file locked by another process", () => {
  it("model calls go on unaffected; every record lands once after the lock is released", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-lock-"));
    const path = join(dir, "usage.db");
    const monitor = createTokenMonitor({
      store: new SqliteUsageStore({ path, busyTimeoutMs: 50 }),
      writer: { flushIntervalMs: 20, retryDelayMs: 20, maxRetryDelayMs: 100, spillDir: join(dir, "spill") },
      logger: quietLogger,
    });
    // An independent witness of every finished call: run id and the usage the model reported.
    const observed = new Map<string, number>();
    const witness = BaseCallbackHandler.fromMethods({
      handleLLMEnd(output: LLMResult, runId: string) {
        const usage = (output.generations[0][0] as { message?: { usage_metadata?: { input_tokens: number } } }).message?.usage_metadata;
        observed.set(runId, usage?.input_tokens ?? -1);
      },
    });
    const model = new ScriptedChatModel();
    const config = attachTokenTracking({ callbacks: [witness] }, { monitor, userId: "lock-user" });
    const call = async (i: number): Promise<number> => {
      const t0 = performance.now();
      await model.invoke([new HumanMessage(`question ${i} ${"x".repeat(i % 40)}`)], config);
      return performance.now() - t0;
    };

    let i = 0;
    const baseline: number[] = [];
    for (; i < 30; i++) baseline.push(await call(i));
    await monitor.flush({ timeoutMs: 5000 });

    const holder = startFixture("hold-lock.ts", [path, String(LOCK_MS)]);
    await holder.waitFor(/^locked$/);
    const lockedAt = performance.now();
    // better-sqlite3 waits for a lock synchronously: that wait blocks the whole event loop.
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    let releasedAt = Infinity;
    void holder.waitFor(/^released$/).then(() => (releasedAt = performance.now()));
    const duringLock: number[] = [];
    const afterLock: number[] = [];
    // Calls spaced like a busy agent (a few ms apart), through the lock and a little after it.
    while (performance.now() < releasedAt + 300 && performance.now() - lockedAt < LOCK_MS + 5000) {
      const latency = await call(i++);
      (performance.now() < releasedAt ? duringLock : afterLock).push(latency);
      await new Promise((r) => setTimeout(r, 5));
    }
    loopDelay.disable();
    const maxLoopStallMs = loopDelay.max / 1e6;
    await holder.exited;
    await monitor.flush({ timeoutMs: 10_000 });

    const stored = readUsageFile(path);
    const report = (name: string, v: number[]) =>
      `${name}: n=${v.length} p50=${percentile(v, 50).toFixed(2)} ms p99=${percentile(v, 99).toFixed(2)} ms max=${Math.max(...v).toFixed(2)} ms`;
    console.log(
      `[faults] sqlite lock ${LOCK_MS} ms, busy timeout 50 ms, failed write attempts ${monitor.writer.stats.failedAttempts}\n  ` +
        [
          report("before lock", baseline),
          report("during lock", duringLock),
          report("after lock", afterLock),
          `longest event-loop stall during the lock: ${maxLoopStallMs.toFixed(1)} ms`,
        ].join("\n  "),
    );
    await monitor.close();

    expect(monitor.writer.stats.failedAttempts).toBeGreaterThan(0); // the lock really blocked writes
    expect(duringLock.length).toBeGreaterThanOrEqual(20);
    // No call waited for the lock: each finished far sooner than the lock lasted.
    expect(Math.max(...duringLock)).toBeLessThan(LOCK_MS / 3);
    expect(maxLoopStallMs).toBeLessThan(LOCK_MS / 3);
    expect(stored.duplicateIds).toEqual([]);
    expect(new Set(stored.ids)).toEqual(new Set(observed.keys()));
    expect(stored.ids.length).toBe(i);
    expect(stored.inputTokens).toBe([...observed.values()].reduce((a, b) => a + b, 0));
  });
});
