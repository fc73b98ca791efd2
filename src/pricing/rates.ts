/**
 * The arithmetic of a price: one code path for catalog and override prices.
 *
 * Money is counted in integer nano-dollars (1e-9 USD). A float USD figure
 * such as 0.0025 cannot be summed exactly over millions of records (the error
 * grows with every addition and sums then disagree between stores and
 * reports); integers below 2^53 (about 9 million USD in nanos) add exactly in
 * a JS number and in SQL. A rate is therefore kept in nano-dollars per token
 * (USD per 1M tokens x 1000), each side of a call (input, output) is rounded
 * once to the nearest nano-dollar, and total = input + output. USD figures are
 * derived (`nanos / 1e9`) for display only.
 *
 * Semantics, the same as genai-prices': input tokens are inclusive; cache
 * reads and cache writes are priced at their own rates instead of the input
 * rate when the price has such a rate, and as plain input when it has not.
 * Reasoning tokens are part of output tokens. A tier applies to every token of
 * the call once the prompt (all input tokens) exceeds its `start`.
 */
import { ValidationError } from "../errors.js";
import type { CostUsage } from "./types.js";

export interface Tiered {
  base: number;
  /** Sorted by `start`, ascending. */
  tiers: ReadonlyArray<{ start: number; rate: number }>;
}

/** Nano-dollars per token, flat or by prompt size. */
export type Rate = number | Tiered;

export interface RateCard {
  input: Rate;
  output: Rate;
  cacheRead?: Rate;
  cacheWrite?: Rate;
}

export type PriceConstraint =
  | { type: "start_date"; startMs: number }
  | { type: "time_of_day"; startSec: number; endSec: number };

/** A card in force under a constraint (none: always). */
export interface ScheduledCard {
  constraint?: PriceConstraint;
  card: RateCard;
}

/**
 * Prices over time. Resolved like genai-prices: the last entry whose
 * constraint holds wins; when none holds, the first entry.
 */
export type RateSchedule = readonly ScheduledCard[];

/** USD per 1M tokens -> nano-dollars per token, with float noise removed. */
export function perMillionToNanosPerToken(usdPerMillion: number): number {
  return Number((usdPerMillion * 1000).toPrecision(12));
}

export function selectCard(schedule: RateSchedule, atMs: number): RateCard {
  for (let i = schedule.length - 1; i >= 0; i--) {
    const { constraint, card } = schedule[i];
    if (constraint === undefined) return card;
    if (constraint.type === "start_date") {
      if (atMs >= constraint.startMs) return card;
    } else {
      const sec = ((atMs % 86_400_000) + 86_400_000) % 86_400_000 / 1000;
      const { startSec, endSec } = constraint;
      const inWindow = endSec < startSec ? sec >= startSec || sec < endSec : sec >= startSec && sec < endSec;
      if (inWindow) return card;
    }
  }
  return schedule[0].card;
}

function rateAt(rate: Rate, promptTokens: number): number {
  if (typeof rate === "number") return rate;
  let r = rate.base;
  for (const t of rate.tiers) if (promptTokens > t.start) r = t.rate;
  return r;
}

function checkCount(value: unknown, field: string): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new ValidationError(field, `must be a finite non-negative number, got ${String(value)}`);
  }
  return value;
}

/** Validated token counts; throws `ValidationError` naming the usage field. */
export function checkUsage(usage: CostUsage): Required<Omit<CostUsage, "reasoningTokens">> {
  const inputTokens = checkCount(usage.inputTokens, "usage.inputTokens");
  const outputTokens = checkCount(usage.outputTokens, "usage.outputTokens");
  const cacheReadTokens = checkCount(usage.cacheReadTokens, "usage.cacheReadTokens");
  const cacheWriteTokens = checkCount(usage.cacheWriteTokens, "usage.cacheWriteTokens");
  checkCount(usage.reasoningTokens, "usage.reasoningTokens");
  if (cacheReadTokens + cacheWriteTokens > inputTokens) {
    throw new ValidationError(
      "usage.cacheReadTokens",
      `cache reads (${cacheReadTokens}) plus cache writes (${cacheWriteTokens}) exceed inputTokens (${inputTokens}); ` +
        "inputTokens must include the cached tokens",
    );
  }
  return { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens };
}

/** Cost of one call in integer nano-dollars, `multiplier` applied before rounding. */
export function costNanos(
  card: RateCard,
  usage: Required<Omit<CostUsage, "reasoningTokens">>,
  multiplier: number,
): { inputNanos: number; outputNanos: number } {
  const prompt = usage.inputTokens;
  let uncached = prompt;
  let input = 0;
  if (card.cacheRead !== undefined) {
    uncached -= usage.cacheReadTokens;
    input += usage.cacheReadTokens * rateAt(card.cacheRead, prompt);
  }
  if (card.cacheWrite !== undefined) {
    uncached -= usage.cacheWriteTokens;
    input += usage.cacheWriteTokens * rateAt(card.cacheWrite, prompt);
  }
  input += uncached * rateAt(card.input, prompt);
  const output = usage.outputTokens * rateAt(card.output, prompt);
  return {
    inputNanos: Math.round(input * multiplier),
    outputNanos: Math.round(output * multiplier),
  };
}
