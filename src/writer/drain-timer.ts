/**
 * When the writer's next drain starts: after a delay (a lone record waiting for
 * companions), or right after the current turn of the event loop (a full batch, a flush).
 * At most one start is pending; asking for "now" replaces a pending delay.
 */
export class DrainTimer {
  private cancel: (() => void) | null = null;
  private now = false;

  constructor(private readonly start: () => void) {}

  schedule(delayMs: number): void {
    if (this.cancel) {
      if (delayMs > 0 || this.now) return;
      this.cancel();
    }
    this.now = delayMs === 0;
    const run = () => {
      this.cancel = null;
      this.start();
    };
    if (delayMs === 0) {
      // `setImmediate`, not `setTimeout(0)`, which waits a whole millisecond: a flush after
      // every call (a serverless handler) would pay it each time.
      const immediate = setImmediate(run);
      this.cancel = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(run, delayMs);
      // A pending write must not keep a finished script alive; `flush()` is how to wait for it.
      timer.unref();
      this.cancel = () => clearTimeout(timer);
    }
  }

  clear(): void {
    this.cancel?.();
    this.cancel = null;
  }
}
