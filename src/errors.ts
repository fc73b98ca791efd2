/**
 * Every error this package throws, each with a stable `code` that scripts and
 * HTTP clients can rely on. Messages say what was wrong and what to do.
 */
export class TokenTrackingError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input given by the caller is malformed; `field` names the offending field. */
export class ValidationError extends TokenTrackingError {
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super("ERR_VALIDATION", `${field}: ${message}`, options);
    this.field = field;
  }
}

/** A price table, override file or pricing option is unusable. */
export class PricingConfigError extends TokenTrackingError {
  readonly entry: string;
  constructor(entry: string, message: string, options?: { cause?: unknown }) {
    super("ERR_PRICING_CONFIG", `pricing entry "${entry}": ${message}`, options);
    this.entry = entry;
  }
}

/** The store could not be reached or refused a write or read. */
export class StoreError extends TokenTrackingError {
  constructor(message: string, options?: { cause?: unknown }, code = "ERR_STORE") {
    super(code, message, options);
  }
}

/**
 * The store cannot be used as it is, and retrying soon will not change that: the file is
 * not a database, it or its folder is read-only, or it was written by a newer version of
 * this package. The writer reports it once and keeps retrying at a slow pace (an operator
 * may fix it), holding the records in memory and in the spill journal meanwhile.
 */
export class StoreUnusableError extends StoreError {
  /** The file (or account) that cannot be used. */
  readonly location: string;
  readonly permanent = true;
  constructor(location: string, message: string, options?: { cause?: unknown }) {
    super(message, options, "ERR_STORE_UNUSABLE");
    this.location = location;
  }
}

/**
 * `flush()` or `close()` ran out of time. What the store had not taken was written to the
 * spill journal (`journal`, replayed by the next process that opens the store); `atRisk`
 * records could not be journaled either and are only in memory.
 */
export class FlushTimeoutError extends StoreError {
  /** Records not in the store when time ran out: `spilled + atRisk` (plus a batch still in flight). */
  readonly unstored: number;
  readonly spilled: number;
  readonly journal: string;
  readonly atRisk: number;
  constructor(details: { timeoutMs: number; unstored: number; spilled: number; journal: string; atRisk: number; reason?: string }) {
    // With a reason (an unusable store) the call gave up at once rather than after its timeout.
    let message = `${details.unstored} token usage records not yet stored ${details.reason ? `(${details.reason})` : `within ${details.timeoutMs} ms`}`;
    if (details.spilled > 0) message += `; ${details.spilled} are in the spill journal ${details.journal}, stored when the store takes writes again (here or by the next process that opens it)`;
    if (details.atRisk > 0) message += `; ${details.atRisk} could not be journaled either and are at risk: they are only in this process's memory`;
    super(message, undefined, "ERR_FLUSH_TIMEOUT");
    this.unstored = details.unstored;
    this.spilled = details.spilled;
    this.journal = details.journal;
    this.atRisk = details.atRisk;
  }
}

/**
 * This process's spill journal reached `maxJournalBytes`: it takes no more records until
 * a replay empties it (the writer then keeps records in memory up to its bound).
 */
export class JournalFullError extends TokenTrackingError {
  constructor(file: string, maxBytes: number) {
    super("ERR_JOURNAL_FULL", `the spill journal ${file} reached its bound of ${maxBytes} bytes (maxJournalBytes)`);
  }
}

/** An optional dependency (for example `@azure/cosmos`) is not installed. */
export class MissingDependencyError extends TokenTrackingError {
  constructor(pkg: string, purpose: string, options?: { cause?: unknown }) {
    super(
      "ERR_MISSING_DEPENDENCY",
      `${purpose} needs the package "${pkg}": install it with \`npm install ${pkg}\``,
      options,
    );
  }
}

/** A paging cursor is not one this package produced. */
export class InvalidCursorError extends TokenTrackingError {
  constructor(message = "the cursor is malformed; pass back the cursor returned by the previous page") {
    super("ERR_INVALID_CURSOR", message);
  }
}

/** The store or writer was used after `close()`. */
export class ClosedError extends TokenTrackingError {
  constructor(what: string) {
    super("ERR_CLOSED", `${what} is closed`);
  }
}

export interface BudgetExceededDetails {
  scope: string;
  limitId: string;
  metric: "tokens" | "cost" | "requests";
  /** Tokens, requests, or USD for cost limits (the same unit in every field below). */
  limit: number;
  /** Settled usage in the window, every process included. */
  used: number;
  /** Held by calls in flight (every process's, as last reported). */
  inFlight: number;
  /** limit - used - inFlight, at least 0. */
  remaining: number;
  /** What this call would take (0 when the check had no estimate). */
  estimate: number;
  /** How the estimate was made, e.g. "7 prompt tokens (characters / 4, plus 4 per message) + max_tokens 20". */
  estimateBasis?: string;
  resetsAt: string | null;
}

/** Thrown before a model call when a budget in block mode has no room left. */
export class BudgetExceededError extends TokenTrackingError {
  readonly details: BudgetExceededDetails;
  constructor(details: BudgetExceededDetails) {
    const unit = details.metric === "cost" ? "USD" : details.metric;
    const held = details.inFlight > 0 ? `, ${details.inFlight} held by calls in flight` : "";
    const call = details.estimate > 0 ? `; this call needs ${details.estimate}${details.estimateBasis ? ` (estimate: ${details.estimateBasis})` : ""}` : "";
    const fix =
      details.metric === "tokens" && details.estimateBasis?.includes("(default:")
        ? "set max_tokens on the model to lower the estimate, raise the limit"
        : "raise the limit";
    super(
      "ERR_BUDGET_EXCEEDED",
      `budget "${details.limitId}" (${details.scope}) refused the call: used ${details.used} of ${details.limit} ${unit}${held}, ` +
        `${details.remaining} left${call}. To go on: ${fix} (token-usage set-limit, or PUT /budgets)` +
        (details.resetsAt ? `, or wait for the reset at ${details.resetsAt}` : ", or wait for usage to leave the rolling window") +
        ".",
    );
    this.details = details;
  }
}

/** Every error class, for the code-uniqueness test and for documentation. */
export const errorClasses = [
  ValidationError,
  PricingConfigError,
  StoreError,
  StoreUnusableError,
  FlushTimeoutError,
  JournalFullError,
  MissingDependencyError,
  InvalidCursorError,
  ClosedError,
  BudgetExceededError,
] as const;
