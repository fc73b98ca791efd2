/**
 * Waiting for LangChain's background callback queue, and for nothing else.
 *
 * Handlers run in that queue, so a record reaches the writer after `invoke()` returns.
 * `awaitAllCallbacks()` waits for the queue and also for LangSmith's trace batches, which
 * begins with a fixed 1 ms sleep: a flush after every call (a serverless handler) paid
 * that millisecond each time. The queue runs one task at a time, in the order added, so
 * a task of ours added now starts only once every callback queued before it has ended.
 */
import { consumeCallback } from "@langchain/core/callbacks/promises";

/**
 * Resolves true once every callback queued so far has run, or false after `timeoutMs`
 * (a handler of another library that never settles must not hold a flush for ever).
 */
export function callbacksQueuedSoFar(timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
    void consumeCallback(async () => {
      clearTimeout(timer);
      resolve(true);
    }, false);
  });
}
