/**
 * `monitor.flush()` waits for LangChain's background callback queue itself (not for
 * LangSmith's trace batches), so a call whose end callback is still queued when `invoke()`
 * returns is flushed too; and a callback that never finishes holds a flush only as long as
 * its timeout allows.
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ScriptedChatModel } from "../../examples/lib/scripted-chat-model.js";
import { attachTokenTracking, createTokenMonitor } from "../../src/index.js";

/** A handler whose end callback takes `ms` (or never ends, with `ms` = Infinity). */
class SlowEndHandler extends BaseCallbackHandler {
  name = "slow_end";
  ended = 0;
  constructor(private readonly ms: number) {
    super();
  }
  override async handleLLMEnd(): Promise<void> {
    if (this.ms === Infinity) return new Promise(() => undefined);
    await new Promise((r) => setTimeout(r, this.ms));
    this.ended++;
  }
}

function monitorWithWarnings() {
  const warnings: string[] = [];
  const monitor = createTokenMonitor({
    sqlitePath: join(mkdtempSync(join(tmpdir(), "tt-flush-queue-")), "usage.db"),
    env: {},
    budget: false,
    logger: { warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) },
  });
  return { monitor, warnings };
}

describe("monitor.flush() and LangChain's callback queue", () => {
  it("flushes the calls whose end callbacks were still queued behind a slow handler", async () => {
    const { monitor, warnings } = monitorWithWarnings();
    const slow = new SlowEndHandler(40);
    const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
    // The slow handler comes first, so each call's end callback for tracking waits behind it.
    const config = attachTokenTracking({ callbacks: [slow], metadata: { user_id: "q1", thread_id: "tq1" } }, { monitor });
    for (let i = 0; i < 5; i++) await model.invoke(`hello ${i}`, config);
    expect(slow.ended).toBeLessThan(5); // the queue was not drained when invoke() returned
    await monitor.flush();
    expect(slow.ended).toBe(5);
    expect((await monitor.getThreadUsage("tq1")).totalRequests).toBe(5);
    expect(warnings).toEqual([]);
    await monitor.close();
  });

  it("flushes what was tracked, with a warning, when a callback in the queue never finishes", async () => {
    const { monitor, warnings } = monitorWithWarnings();
    const model = new ScriptedChatModel({ model: "gpt-4o-mini" });
    const config = attachTokenTracking({ metadata: { user_id: "q2", thread_id: "tq2" } }, { monitor });
    // After tracking's own end callback, a handler that never ends blocks the queue for good.
    ((config as { callbacks?: unknown }).callbacks as BaseCallbackHandler[]).push(new SlowEndHandler(Infinity));
    await model.invoke("hello", config);
    const started = Date.now();
    await monitor.flush({ timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(warnings.some((w) => w.includes("callback queue was still busy after 300 ms"))).toBe(true);
    expect((await monitor.getThreadUsage("tq2")).totalRequests).toBe(1);
    await monitor.close();
  });
});
