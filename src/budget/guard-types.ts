/**
 * The shapes `BudgetGuard` takes and returns: its options, what it needs of a
 * monitor, a check's options and its decision. Kept apart so the admission and
 * status modules share them without importing the guard itself.
 */
import type { BudgetExceededDetails } from "../errors.js";
import type { Pricer } from "../pricing/types.js";
import type { ResolvedRange } from "../query/range.js";
import type { AggregateRow, GroupKey, RecordFilter, UsageStore } from "../stores/types.js";
import type { AlertSinkOptions } from "./alerts.js";
import type { BudgetLimit, BudgetLimitInput, BudgetMode } from "./limits.js";
import type { EstimateOptions, UsageAmount } from "./reservations.js";
import type { CallContext } from "./scopes.js";

/** What the guard needs of a `TokenMonitoringService`. */
export interface BudgetMonitor {
  readonly store: UsageStore;
  readonly pricer: Pricer;
  aggregate(filter: RecordFilter & ResolvedRange, groupBy: GroupKey[]): Promise<AggregateRow[]>;
  /** The monitor's writer: while it holds records back, their settled calls are remembered. */
  readonly writer?: { readonly holdingBack: boolean };
}

export interface BudgetGuardOptions extends AlertSinkOptions {
  monitor: BudgetMonitor;
  /** Limits from the environment or a config file; stored limits with the same id win. */
  limits?: Array<BudgetLimitInput | BudgetLimit>;
  /** Mode of limits that name none (also those set later through code, REST or the CLI). @default "warn" */
  defaultMode?: BudgetMode;
  /** False turns every check into "allowed" and records nothing. @default true */
  enabled?: boolean;
  /** The clock (tests move it). @default () => new Date() */
  now?: () => Date;
  estimate?: EstimateOptions;
  /** Reservations of calls that never ended are released after this long. @default 600000 */
  reservationTtlMs?: number;
  /** Settings namespace of stored limits. @default "budget-limits" */
  namespace?: string;
  /** Stored limits are re-read this often: a change made anywhere applies here within it. @default 2000 */
  limitRefreshMs?: number;
  /** Settled usage is reported to the shared counters this often. @default 250 */
  reportIntervalMs?: number;
}

export interface BudgetDecision {
  allowed: boolean;
  /** Block-mode limits that refuse the call. */
  exceeded: BudgetExceededDetails[];
  /** Warn-mode limits that are (or would be) over. */
  warnings: BudgetExceededDetails[];
}

export interface CheckOptions {
  provider?: string;
  model?: string;
  agentName?: string;
  dimensions?: Record<string, string>;
  /** The call's estimated usage; without it the check asks "is there any room left". */
  estimate?: UsageAmount;
  /** How the estimate was made (shown in refusals). */
  estimateBasis?: string;
}

export interface ReserveRequest extends CheckOptions {
  runId: string;
  userId: string;
}

export const ALLOWED: BudgetDecision = Object.freeze({ allowed: true, exceeded: [], warnings: [] }) as BudgetDecision;

export function contextOf(userId: string, o: CheckOptions): CallContext {
  return { userId, provider: o.provider, model: o.model, agentName: o.agentName, dimensions: o.dimensions };
}
