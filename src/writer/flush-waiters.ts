/**
 * Callers of `flush()` waiting for the writer to be idle, each bounded by its own
 * timeout. A waiter that gives up (its timeout, or an unusable store) leaves the list at
 * once, so a caller that stopped waiting does not keep the writer probing the journal.
 */
interface Waiter {
  resolve(): void;
  fail(reason?: string): void;
}

export class FlushWaiters {
  private waiters: Waiter[] = [];

  get size(): number {
    return this.waiters.length;
  }

  /** Resolves on `resolveAll()`; rejects with `giveUp(reason)` after `timeoutMs` or on `failAll(reason)`. */
  wait(timeoutMs: number, giveUp: (reason?: string) => Error): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        fail: (reason) => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(giveUp(reason));
        },
      };
      const timer = setTimeout(() => waiter.fail(), timeoutMs);
      this.waiters.push(waiter);
    });
  }

  resolveAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  failAll(reason: string): void {
    for (const waiter of [...this.waiters]) waiter.fail(reason);
  }
}
