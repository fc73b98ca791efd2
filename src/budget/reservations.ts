/**
 * Reservations make concurrent checks safe: a call admitted in block mode holds its
 * estimated tokens and cost until it ends, so fifty calls that start together see
 * each other and cannot all spend the last room. The estimate is the prompt size
 * (characters / 4, plus a few tokens per message) and the call's declared
 * `max_tokens` (or a default); it is settled to the real usage when the call ends.
 *
 * Overshoot bound: with every call blocked-checked, spend in a window exceeds the
 * limit by at most the sum, over calls in flight together, of (actual - estimate)
 * where positive. When each call declares `max_tokens` and its prompt is no larger
 * than estimated, that sum is zero.
 */
import type { CallContext } from "./scopes.js";
import type { Tally } from "./tally.js";

export interface UsageAmount {
  tokens: number;
  /** Nano-dollars. */
  costNanos: number;
}

export interface EstimateOptions {
  /** Characters per prompt token of the estimate. Lower is more cautious. @default 4 */
  charsPerToken?: number;
  /** Output tokens assumed when a call declares no `max_tokens`. @default 1024 */
  defaultMaxOutputTokens?: number;
}

const PER_MESSAGE_OVERHEAD = 4;
const MAX_OUTPUT_KEYS = [
  "max_tokens",
  "maxTokens",
  "max_completion_tokens",
  "maxCompletionTokens",
  "max_output_tokens",
  "maxOutputTokens",
  "max_tokens_to_sample",
  "maxTokensToSample",
  "num_predict",
];

/** Prompt tokens of chat messages (`BaseMessage[][]`) or plain prompts (`string[]`), estimated. */
export function estimatePromptTokens(input: unknown, charsPerToken = 4): number {
  let chars = 0;
  let messages = 0;
  const visit = (value: unknown, depth: number): void => {
    if (depth > 4) return;
    if (typeof value === "string") {
      chars += value.length;
      messages++;
    } else if (Array.isArray(value)) {
      for (const v of value) visit(v, depth + 1);
    } else if (value && typeof value === "object") {
      messages++;
      chars += contentLength((value as { content?: unknown }).content);
      const toolCalls = (value as { tool_calls?: unknown }).tool_calls;
      if (Array.isArray(toolCalls) && toolCalls.length > 0) chars += safeJsonLength(toolCalls);
    }
  };
  visit(input, 0);
  return Math.ceil(chars / charsPerToken) + messages * PER_MESSAGE_OVERHEAD;
}

function contentLength(content: unknown): number {
  if (typeof content === "string") return content.length;
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (typeof part === "string") n += part.length;
    else if (part && typeof part === "object" && typeof (part as { text?: unknown }).text === "string") n += (part as { text: string }).text.length;
    else n += safeJsonLength(part);
  }
  return n;
}

function safeJsonLength(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return 0;
  }
}

/** The output cap a call declares in its invocation params, if any. */
export function declaredMaxOutputTokens(params: Record<string, unknown> | undefined): number | undefined {
  if (!params) return undefined;
  for (const key of MAX_OUTPUT_KEYS) {
    const v = params[key];
    // LangChain's OpenAI client uses -1 for "no cap".
    if (typeof v === "number" && Number.isFinite(v) && v > 0) return Math.ceil(v);
  }
  const nested = params.generationConfig ?? params.generation_config;
  if (nested && typeof nested === "object") return declaredMaxOutputTokens(nested as Record<string, unknown>);
  return undefined;
}

/** One admitted call's holds on the tallies it was checked against. */
export interface Reservation {
  runId: string;
  ctx: CallContext;
  /** When the call started (its record carries this timestamp). */
  at: number;
  createdAt: number;
  holds: Array<{ tally: Tally; amount: number }>;
}

export class ReservationBook {
  private readonly open = new Map<string, Reservation>();

  get size(): number {
    return this.open.size;
  }

  has(runId: string): boolean {
    return this.open.has(runId);
  }

  add(reservation: Reservation): void {
    for (const h of reservation.holds) h.tally.held += h.amount;
    this.open.set(reservation.runId, reservation);
  }

  /** Releases the holds of a call and returns it (undefined when unknown or already settled). */
  release(runId: string): Reservation | undefined {
    const r = this.open.get(runId);
    if (!r) return undefined;
    this.open.delete(runId);
    for (const h of r.holds) h.tally.held = Math.max(0, h.tally.held - h.amount);
    return r;
  }

  /** Releases calls that never ended (a crashed chain, a handler that threw after ours). */
  expire(before: number): number {
    let n = 0;
    for (const [runId, r] of this.open) {
      if (r.createdAt < before) {
        this.release(runId);
        n++;
      }
    }
    return n;
  }
}
