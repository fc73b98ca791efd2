/**
 * Builds the handler's records soon after their calls end: once per turn of the event loop
 * (`setImmediate`), off the agent's synchronous path, instead of whenever the writer next
 * writes (up to its flush interval later).
 *
 * The work is the same; what changes is how long a finished call's objects live. A deferred
 * record holds the run's metadata, the serialized model and the whole `LLMResult` until it
 * is built; kept for a flush interval they survive young-generation collections and are
 * copied to the old generation, which cost more CPU than building the record itself
 * (measured: see BENCHMARKS.md). Built within the turn, they die young.
 *
 * The writer still receives every record at once as a deferred entry, so `flush()` waits for
 * it and `spillAll()` saves it: an entry not yet built when the writer asks is built then.
 * A build that throws is kept and rethrown to the writer, which reports it as before.
 */
import type { UsageRecord } from "../record/types.js";
import type { DeferredRecord } from "../writer/buffered-writer.js";

class Slot {
  record: UsageRecord | null = null;
  error: unknown = undefined;
  constructor(public build: (() => UsageRecord) | null) {}

  run(): void {
    const build = this.build;
    if (!build) return;
    this.build = null; // drops the run's objects
    try {
      this.record = build();
    } catch (error) {
      this.error = error ?? new Error("record build failed");
    }
  }

  take(): UsageRecord | null {
    this.run();
    const record = this.record;
    this.record = null;
    if (this.error !== undefined) throw this.error;
    return record;
  }
}

export class EarlyBuilder {
  private queue: Slot[] = [];
  private scheduled = false;
  private readonly drain = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const slot of queue) slot.run();
  };

  /** The entry to hand to the writer; the record is built at the end of this turn. */
  defer(build: () => UsageRecord): DeferredRecord {
    const slot = new Slot(build);
    this.queue.push(slot);
    if (!this.scheduled) {
      this.scheduled = true;
      // Never what keeps a process alive: an entry still unbuilt at exit is built by the writer.
      setImmediate(this.drain).unref();
    }
    return () => slot.take();
  }
}
