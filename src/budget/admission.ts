/**
 * Deciding one call: the tallies of every limit that applies to it, the store reads
 * a decision needs (none in the common case: the call's estimate fits in this
 * process's lease), and the decision itself. A refusal by a shared counter whose
 * store still had room (calls alongside took what the last report brought) is retried.
 */
import type { Logger } from "../writer/buffered-writer.js";
import type { AlertRaiser } from "./budget-report.js";
import { exceededDetails } from "./budget-report.js";
import { ALLOWED, type BudgetDecision, type CheckOptions } from "./guard-types.js";
import type { LeaseSync } from "./lease-sync.js";
import type { LimitRegistry } from "./limit-registry.js";
import type { UsageAmount } from "./reservations.js";
import { subjectFor, type CallContext } from "./scopes.js";
import { SharedTally } from "./shared-tally.js";
import type { TallyIndex } from "./tally-index.js";
import { unitsOf, type Tally } from "./tally.js";

/** Rounds of asking the store again while its last answer says there is room. */
const MAX_ROUNDS = 20;

export interface AdmissionDeps {
  registry: LimitRegistry;
  tallies: TallyIndex;
  leases: LeaseSync;
  raiser: AlertRaiser;
  logger: Logger;
  clock: () => number;
}

export class Admission {
  constructor(private readonly d: AdmissionDeps) {}

  /**
   * Reads what the decision needs and decides; `hold` runs synchronously with an
   * allowing decision, so concurrent reservations see each other.
   */
  async admit(ctx: CallContext, options: CheckOptions, now: number, hold?: (tallies: Tally[], at: number) => void): Promise<{ tallies: Tally[]; decision: BudgetDecision; at: number }> {
    const est = options.estimate ?? { tokens: 0, costNanos: 0 };
    for (let attempt = 0; ; attempt++) {
      const tallies = await this.prepare(ctx, options.estimate, attempt === 0 ? now : this.d.clock());
      const at = this.d.clock();
      const decision = this.decide(tallies, options, at, false);
      const retry =
        !decision.allowed &&
        attempt < MAX_ROUNDS &&
        tallies.some((t) => {
          const amount = Math.max(1, unitsOf(t.limit, est));
          return t instanceof SharedTally && t.blocking && !t.fits(amount, at) && t.couldGet(amount, at);
        });
      if (retry) continue;
      if (decision.allowed) hold?.(tallies, at);
      return { tallies, decision: decision.allowed ? decision : this.decide(tallies, options, at, true), at };
    }
  }

  /** The call's tallies, with every store read a decision needs done (none in the common case). */
  private async prepare(ctx: CallContext, estimate: UsageAmount | undefined, now: number): Promise<Tally[]> {
    const { registry, leases } = this.d;
    if (!registry.loaded) await registry.ensureLoaded(now);
    else void registry.ensureLoaded(now);
    const tallies: Tally[] = [];
    for (const limit of registry.forUser(ctx.userId, ctx.provider, false)) {
      const subject = subjectFor(limit, ctx);
      if (subject !== undefined) tallies.push(this.d.tallies.get(limit, subject, now));
    }
    const est = estimate ?? { tokens: 0, costNanos: 0 };
    // Calls running alongside may take what one report brought: ask again while the
    // store's last answer says there is room (bounded, so contention cannot spin forever).
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const at = round === 0 ? now : this.d.clock();
      const needs: Array<[SharedTally, number]> = [];
      for (const t of tallies) {
        if (t instanceof SharedTally) {
          t.lastActive = at;
          t.admits = true;
          leases.touch(t);
          const amount = Math.max(1, unitsOf(t.limit, est));
          if (t.blocking && t.renewDue(at) && t.fits(amount, at)) leases.renew(t);
          if (!t.synced ? t.syncing === null || t.blocking : t.blocking && !t.fits(amount, at) && t.couldGet(amount, at) && t.failOpenUntil <= at) {
            needs.push([t, amount]);
          }
        }
      }
      if (needs.length === 0) break;
      const demand = leases.demand(needs).catch((error) => {
        // Fail open: a store outage must not stop every model call.
        this.d.logger.warn(`[token-tracking] budget counters unavailable, call allowed: ${(error as Error).message}`);
        for (const [t] of needs) t.failOpenUntil = this.d.clock() + 1000;
      });
      // Warn-mode counters are read in the background: a warning never waits for the store.
      if (needs.every(([t]) => !t.blocking)) break;
      await demand;
    }
    return tallies;
  }

  private decide(tallies: Tally[], options: CheckOptions, now: number, final: boolean): BudgetDecision {
    let decision: BudgetDecision | null = null;
    for (const t of tallies) {
      const need = unitsOf(t.limit, options.estimate ?? { tokens: 0, costNanos: 0 });
      let ok: boolean;
      if (t instanceof SharedTally && t.blocking && t.failOpenUntil <= now) ok = t.fits(Math.max(1, need), now);
      else {
        const committed = t.used(now) + t.inFlight();
        // Refused when nothing is left, or when this call's estimate does not fit.
        ok = (committed < t.limitAmount && committed + need <= t.limitAmount) || (t instanceof SharedTally && t.failOpenUntil > now);
      }
      if (ok) continue;
      decision ??= { allowed: true, exceeded: [], warnings: [] };
      const details = exceededDetails(t, now, need, options.estimateBasis);
      if (t.limit.mode === "block") {
        decision.allowed = false;
        decision.exceeded.push(details);
        if (final) this.d.raiser.refusal(t, t.used(now), now);
      } else decision.warnings.push(details);
    }
    return decision ?? ALLOWED;
  }
}
