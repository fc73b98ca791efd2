/**
 * The change-feed consumer that keeps the global rollups. One step: read the lease,
 * read one feed page from its continuation, fold the page's records into hour and day
 * deltas and the leaderboards' per-entity documents (leader-docs.ts), and commit the rewritten rollups together with the lease's new continuation
 * in ONE transactional batch conditional on the lease's etag. So a page is counted
 * exactly once: a consumer that crashes before its commit changed nothing (the next
 * one reads the same page again), and of two replicas folding the same page only the
 * first commit succeeds; the other's batch fails whole (412), it discards its fold and
 * re-reads the lease. A page whose batch would exceed 100 operations or 2 MB (records
 * spread over many hours) is read again smaller. The dimension documents (dim-docs.ts)
 * are folded in the same batch.
 *
 * The feed also carries the consumer's own writes (lease, global rollups) and the
 * per-user rollups: they are skipped. Pages holding only the global partition's own
 * documents are read past within the step without a commit (committing them would put
 * the lease back into the feed, forever); the end of the feed is the SDK's 304, which
 * it answers only once every feed range has nothing new.
 *
 * Runs in `append()` after the write (so after `monitor.flush()` the global views hold
 * what this process flushed) and on a timer in the background; calls in one process
 * are serialised and coalesced.
 */
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { messageOf, sleep } from "../retry.js";
import { batchTooLarge, sendGlobalBatch } from "./batch.js";
import { addDimRecords, dimOperations } from "./dim-docs.js";
import { openFeed } from "./feed.js";
import { addRecords, foldable } from "./fold.js";
import { finishStaleLock } from "./intents.js";
import { GLOBAL_PARTITION, type LeaseDoc } from "./layout.js";
import { ensureLease } from "./lease.js";
import { addEntityRecords, entityOperations } from "./leader-docs.js";
import { leaseReplace, rollupOperations } from "./rollup-writes.js";

/** Feed items per page: at most 100 records, whose hours and days fit one batch when close in time. */
const PAGE_ITEMS = 100;
/** Own-document pages read past in one step before their advance is committed anyway. */
const MAX_OWN_PAGES = 20;
/** Own documents read past at the end of the feed that are worth a lease write to skip next time. */
const OWN_ADVANCE = 20;

const isOwn = (d: Record<string, unknown>) => d.user_id === GLOBAL_PARTITION;

export type StepResult = "advanced" | "caught-up" | "raced";

export interface DrainOptions {
  /** Stop after this many committed pages (the rest is left to the next drain). @default 10000 */
  maxSteps?: number;
  /** The maintenance call holding the lock, when it drains under its own lock. */
  holder?: string;
  /** How long to wait for a maintenance lock to be released. @default 30000 */
  lockWaitMs?: number;
}

export class GlobalConsumer {
  private running?: Promise<boolean>;
  private queued?: Promise<boolean>;
  private timer?: ReturnType<typeof setInterval>;

  constructor(private readonly ctx: CosmosContext) {}

  /** A lock left unchanged this long was left by a crashed holder: finish its work and release it. */
  private get staleLockMs(): number {
    return this.ctx.cfg.globalLockStaleMs;
  }

  /** One page: fold and commit, or find the end of the feed. */
  async step(o: OpenedContainer, lease: LeaseDoc): Promise<StepResult> {
    const ctx = this.ctx;
    let size = PAGE_ITEMS;
    for (;;) {
      const feed = await openFeed(ctx, o, lease.continuation, size);
      // Pages of only the global partition's own documents (the last commit's) are read past
      // without a commit: committing would put the lease back into the feed, forever.
      let page = await feed.next();
      let ownItems = 0;
      for (let skipped = 0; !page.empty && page.items.every(isOwn) && skipped < MAX_OWN_PAGES; skipped++) {
        ownItems += page.items.length;
        page = await feed.next();
      }
      if (page.empty) {
        // Many own documents read past (a large commit's): store the position past them, so
        // the next drain reads one document (this lease write) instead of all of them again.
        if (lease.ready && ownItems >= OWN_ADVANCE) {
          const r = await sendGlobalBatch(ctx, o, [leaseReplace(lease, { ...lease, continuation: page.continuation })], "the global rollups' lease update");
          return r === "ok" ? "caught-up" : "raced";
        }
        if (lease.ready) return "caught-up";
        // The end of the feed, first reached in this epoch: reads may use the rollups from now on.
        const continuation = lease.continuation ?? page.continuation;
        const r = await sendGlobalBatch(ctx, o, [leaseReplace(lease, { ...lease, continuation, ready: true })], "the global rollups' lease update");
        return r === "ok" ? "caught-up" : "raced";
      }
      const records = foldable(page.items, lease.epoch);
      const [rollups, leaders, dims] = await Promise.all([
        rollupOperations(ctx, o, lease.epoch, addRecords(new Map(), records, 1)),
        entityOperations(ctx, o, addEntityRecords(new Map(), records, 1, lease.epoch, lease.windows)),
        lease.dims ? dimOperations(ctx, o, lease.epoch, addDimRecords(new Map(), records, 1)) : [],
      ]);
      const ops = [...rollups, ...leaders, ...dims];
      if (batchTooLarge(ops) && size > 1) {
        size = Math.max(1, Math.floor(size / 2));
        continue;
      }
      ops.push(leaseReplace(lease, { ...lease, continuation: page.continuation }));
      if ((await sendGlobalBatch(ctx, o, ops, "a fold into the global rollups")) === "conflict") {
        ctx.metrics.leaseRaces++;
        return "raced";
      }
      ctx.metrics.recordsFolded += records.length;
      return "advanced";
    }
  }

  /** Folds until the end of the feed; false when stopped early (steps or lock wait ran out). */
  async drainNow(opts: DrainOptions = {}): Promise<boolean> {
    const ctx = this.ctx;
    const o = await ctx.open();
    const maxSteps = opts.maxSteps ?? 10_000;
    const waitUntil = Date.now() + (opts.lockWaitMs ?? 30_000);
    let watched: { etag?: string; since: number } | undefined;
    for (let steps = 0, rounds = 0; steps < maxSteps && rounds < 4 * maxSteps + 100; rounds++) {
      const lease = await ensureLease(ctx, o);
      if (lease.lock && lease.lock.holder !== opts.holder) {
        // Someone re-prices or prunes: its own drain folds what is there; wait for it.
        if (!watched || watched.etag !== lease._etag) watched = { etag: lease._etag, since: Date.now() };
        else if (Date.now() - watched.since >= this.staleLockMs) {
          await finishStaleLock(ctx, o, lease);
          continue;
        }
        if (Date.now() > waitUntil) return false;
        await sleep(50 + Math.random() * 100);
        continue;
      }
      const r = await this.step(o, lease);
      if (r === "caught-up") return true;
      if (r === "advanced") steps++;
      else await sleep(Math.random() * 20); // lost a race: the winner folded that page
    }
    return false;
  }

  /**
   * A drain that starts after every write this process finished before the call: calls
   * made while one runs share the next one.
   */
  drain(opts: DrainOptions = {}): Promise<boolean> {
    if (this.queued) return this.queued;
    const prev = this.running ?? Promise.resolve(true);
    const next = prev
      .catch(() => false)
      .then(() => {
        this.queued = undefined;
        this.running = this.drainNow(opts);
        return this.running;
      });
    this.queued = next;
    return next;
  }

  /** Background drains every `intervalMs` (0: none); the timer does not keep the process alive. */
  start(intervalMs: number): void {
    if (this.timer || intervalMs <= 0) return;
    this.timer = setInterval(() => {
      if (this.ctx.isClosed) return this.stop();
      this.drain().catch((err) => this.ctx.cfg.logger?.warn("global rollups: background drain failed", { error: messageOf(err) }));
    }, intervalMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
