/**
 * What a reported total is allowed to change. Gemini leaves thinking tokens out of
 * `candidatesTokenCount` (LangChain's `output_tokens`) but counts them in the total, so for
 * Google providers a total above input + output is output the provider did not itemise. For
 * every other provider, and past a sane bound, a total that disagrees with its parts is a
 * provider or client bug: input 10, output 5, total 999,999,999 must not become a billion
 * billed output tokens. The parts are then believed, and the total is handed back so the
 * record can be flagged.
 */

/** Token counts of one source, before the consistency rules. */
export interface Counts {
  input: number;
  output: number;
  total?: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number;
}

/**
 * The largest thinking gap believed for one Gemini request: no Gemini model produces more
 * than 65,536 output tokens, thinking included (Gemini 2.5 and 3 `maxOutputTokens`).
 */
export const MAX_UNITEMISED_THINKING = 65_536;

/** `google_genai` (ls_provider), `google-genai` (model_provider), `google_vertexai`, ... */
const GOOGLE = /^(google|gemini|vertex)/i;

/** How much unitemised output a total may add for `requests` requests of `provider` (0: none). */
export function maxThinkingGap(provider: unknown, requests: number): number {
  return typeof provider === "string" && GOOGLE.test(provider) ? MAX_UNITEMISED_THINKING * requests : 0;
}

/** Input, output and reasoning after the total rule; `contradictedTotal` is the total when it was not believed. */
export function reconcileTotal(counts: Counts, maxGap: number): { input: number; output: number; reasoning: number; contradictedTotal: number | null } {
  const { input, output, reasoning, total } = counts;
  if (total === undefined || total === input + output) return { input, output, reasoning, contradictedTotal: null };
  const gap = total - input - output;
  if (gap > 0 && gap <= maxGap && reasoning === 0) {
    // Output the provider did not itemise (Gemini thinking): billed as output, it is reasoning.
    return { input, output: total - input, reasoning: gap, contradictedTotal: null };
  }
  return { input, output, reasoning, contradictedTotal: total };
}
