/**
 * Bounded retries with exponential backoff and full jitter, on top of the SDK's own
 * throttling retries: a busy account (429), a gateway hiccup (5xx, 408) or a dropped
 * connection must delay a write, not lose it. After the last attempt the caller gets
 * a StoreError and the writer above keeps the records buffered.
 *
 * An account that refuses the credentials (401) or the operation (403: a missing
 * data-plane role, the firewall, a disabled account or a full partition) is not busy:
 * retrying within seconds cannot help. It fails at once with a StoreUnusableError naming
 * the container and the service's answer, which the writer reports once and retries at
 * its slow pace (every 60 s), keeping the records in memory and the spill journal, as
 * it does for a SQLite file that cannot be used.
 */
import { StoreError, StoreUnusableError, TokenTrackingError } from "../../errors.js";

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** What an unusable-store report names, e.g. `Cosmos DB container db/c at https://...`. */
  location?: string;
}

const RETRYABLE_STATUS = new Set([408, 429, 449, 500, 502, 503, 504]);
const UNUSABLE_STATUS = new Set([401, 403]);
const NETWORK_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_SOCKET"]);

export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** Whether an error is worth another attempt (throttling, unavailability, network). */
export function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  if (status !== undefined) return RETRYABLE_STATUS.has(status);
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown } | null;
  if (!e) return false;
  if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) return true;
  if (e.name === "AbortError" || e.name === "TimeoutError") return true;
  const msg = typeof e.message === "string" ? e.message : "";
  // The SDK rewraps failed bulk requests as plain errors, dropping the status.
  if (/socket hang up|ECONNRESET|network|timed? ?out|Bulk request errored/i.test(msg)) return true;
  return e.cause !== undefined && e.cause !== err ? isTransient(e.cause) : false;
}

/**
 * The status and retry delay of a transactional batch the service refused whole.
 * `items.batch` rethrows it as `Error("Batch request error: ...")`: SDK 4.10+ keeps the
 * service's answer as its `cause` (so a 403 or 400 can fail at once and a 429 wait as
 * long as asked); 4.9 keeps neither, and `status` is then undefined.
 */
export function batchFailure(err: unknown): { status?: number; retryAfterMs?: number } {
  const cause = (err as { cause?: unknown } | null)?.cause;
  const source = statusOf(err) !== undefined ? err : statusOf(cause) !== undefined ? cause : err;
  return { status: statusOf(source), retryAfterMs: (source as { retryAfterInMs?: number } | null)?.retryAfterInMs };
}

export const isRetryableStatus = (status: number): boolean => RETRYABLE_STATUS.has(status);

/**
 * A StoreUnusableError for an answer of 401 or 403 (also as the `cause` of a refused
 * batch), else undefined. The message holds no request id, so the writer's report of
 * the same failure stays one line however often it retries.
 */
export function unusableError(err: unknown, what: string, location = "Cosmos DB container"): StoreUnusableError | undefined {
  const status = batchFailure(err).status;
  if (status === undefined || !UNUSABLE_STATUS.has(status)) return undefined;
  const source = statusOf(err) !== undefined ? err : (err as { cause?: unknown }).cause;
  const sub = (source as { substatus?: unknown } | null)?.substatus;
  const why =
    status === 401
      ? "the account refused the credentials (401 Unauthorized): check the key, or that the client's identity can get tokens for this account"
      : `the account refused the operation (403 Forbidden${typeof sub === "number" ? `, substatus ${sub}` : ""}): check the identity's data-plane role on the account, the account's firewall and network rules, and that the account and container are enabled and not full`;
  return new StoreUnusableError(location, `${location}: ${what} failed: ${why}. The service said: ${stableMessage(err)}`, { cause: err });
}

/** The error's first line without the per-request activity id and dates. */
function stableMessage(err: unknown): string {
  return messageOf(err)
    .replace(/,?\s*ActivityId:\s*[0-9a-f-]+/gi, "")
    .replace(/\b\d{4}-\d{2}-\d{2}T[0-9:.]+Z?\b/g, "<time>")
    .trim();
}

export function backoffMs(attempt: number, policy: RetryPolicy, retryAfterMs?: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.random() * exp;
  return Math.max(jittered, retryAfterMs ?? 0);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `fn` until it succeeds, a non-transient error occurs, or attempts run out. */
export async function withRetry<T>(what: string, policy: RetryPolicy, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TokenTrackingError) throw err;
      const unusable = unusableError(err, what, policy.location);
      if (unusable) throw unusable;
      if (!isTransient(err)) throw new StoreError(`Cosmos DB ${what} failed: ${messageOf(err)}`, { cause: err });
      if (attempt >= policy.maxAttempts) {
        throw new StoreError(
          `Cosmos DB ${what} still failing after ${attempt} attempts (throttled or unavailable): ${messageOf(err)}`,
          { cause: err },
        );
      }
      const retryAfter = (err as { retryAfterInMs?: number }).retryAfterInMs;
      await sleep(backoffMs(attempt, policy, retryAfter));
    }
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}
