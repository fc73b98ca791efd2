/**
 * Shared budget counters in Cosmos DB: one document per (limit, subject, window) in
 * the subject's partition (the user's own for per-user limits). Each report is a
 * read, the pure update of `budget-counter-math.ts`, and a replace guarded by the
 * document's etag (`IfMatch`): a concurrent writer makes it fail with 412 and the
 * round is redone on the fresh document, so two replicas never grant the same room.
 * A replace applied whose answer was lost is retried, meets 412 and redoes the round:
 * the report's number, kept in the counter, makes that round add no usage again.
 * Leases are judged by the service's clock: the `Date` of the answer to the read.
 */
import { createHash } from "node:crypto";
import type { Container } from "@azure/cosmos";
import { StoreError } from "../../errors.js";
import { applyCounterUpdate, stateOf, type CounterDoc } from "../budget-counter-math.js";
import type { BudgetCounterState, BudgetCounterUpdate } from "../types.js";
import { mapLimit } from "./concurrency.js";
import { sleep, statusOf, withRetry, type RetryPolicy } from "./retry.js";

const MAX_ROUNDS = 50;
const CONCURRENCY = 8;
/** Counter documents outlive their window by a day (when the container has TTL on). */
const TTL_AFTER_WINDOW_S = 86_400;

type CounterDocument = CounterDoc & { id: string; type: "budget_counter"; user_id: string; month: string; ttl: number; _etag?: string };

export function counterDocId(key: string): string {
  return `~b${createHash("sha256").update(key, "utf8").digest("hex")}`;
}

export interface CounterTarget {
  container: Container;
  /** The partition key value of a counter's partition. */
  pk(partition: string): string | string[];
  policy: RetryPolicy;
}

export async function updateCosmosCounters(t: CounterTarget, updates: BudgetCounterUpdate[]): Promise<BudgetCounterState[]> {
  return mapLimit(updates, CONCURRENCY, (u) => updateOne(t, u));
}

export async function readCosmosCounters(t: CounterTarget, keys: Array<{ key: string; partition: string }>, now: number): Promise<Array<BudgetCounterState | null>> {
  return mapLimit(keys, CONCURRENCY, async ({ key, partition }) => {
    const { doc, serverNow } = await read(t, key, partition);
    return doc ? stateOf(doc, serverNow ?? now) : null;
  });
}

/**
 * The service's time at an answer, from its `Date` header (RFC 1123, whole seconds: the
 * middle of the second is taken, so it is off by at most half a second plus the trip).
 */
export function serverTimeOf(headers: Record<string, unknown> | undefined): number | undefined {
  const raw = headers?.["date"] ?? headers?.["Date"];
  const ms = typeof raw === "string" ? Date.parse(raw) : NaN;
  return Number.isFinite(ms) ? ms + 500 : undefined;
}

async function read(t: CounterTarget, key: string, partition: string): Promise<{ doc: CounterDocument | null; serverNow: number | undefined }> {
  return withRetry("read budget counter", t.policy, async () => {
    try {
      const { resource, headers } = await t.container.item(counterDocId(key), t.pk(partition)).read<CounterDocument>();
      return { doc: resource ?? null, serverNow: serverTimeOf(headers as Record<string, unknown>) };
    } catch (err) {
      if (statusOf(err) === 404) return { doc: null, serverNow: serverTimeOf((err as { headers?: Record<string, unknown> }).headers) };
      throw err;
    }
  });
}

async function updateOne(t: CounterTarget, u: BudgetCounterUpdate): Promise<BudgetCounterState> {
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const { doc: current, serverNow } = await read(t, u.key, u.partition);
    // Leases are judged by the service's clock, the one clock every replica shares; the
    // reporter's clock only when an answer carries no time.
    const { doc, state } = applyCounterUpdate(current, u, serverNow ?? u.now);
    const body: CounterDocument = {
      ...doc,
      id: counterDocId(u.key),
      type: "budget_counter",
      user_id: u.partition,
      month: "-",
      ttl: Math.max(60, Math.ceil((doc.expiresAt - (serverNow ?? u.now)) / 1000) + TTL_AFTER_WINDOW_S),
    };
    delete body._etag;
    const lost = await withRetry("write budget counter", t.policy, async () => {
      try {
        if (current) {
          await t.container.item(body.id, t.pk(u.partition)).replace(body, { accessCondition: { type: "IfMatch", condition: current._etag! } });
        } else {
          await t.container.items.create(body);
        }
        return false;
      } catch (err) {
        // 412: another process replaced it first; 409: another process created it first.
        if (statusOf(err) === 412 || statusOf(err) === 409) return true;
        throw err;
      }
    });
    if (!lost) return state;
    await sleep(Math.random() * Math.min(50, 2 * round));
  }
  throw new StoreError(`Cosmos DB budget counter ${u.key} stayed contended for ${MAX_ROUNDS} rounds`);
}
