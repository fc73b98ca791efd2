/**
 * Cost-saving suggestions backed by the usage of a range, written once above
 * the store contract: three grouped aggregates (by provider and model over the
 * range, by agent over each of the last two weeks) and the pricer.
 *
 * Savings are re-priced from the observed token totals: the average successful
 * call (totals / calls) is priced and multiplied by the number of calls, so a
 * tiered price is chosen by the average prompt, as one real call would be.
 * Prices are those in force at the range's end. A monthly figure is the range's
 * saving scaled to 30 days; figures of different rules for one model overlap and
 * must not be added up.
 */
import { ValidationError } from "../errors.js";
import { calculateCost } from "../pricing/calculate-cost.js";
import { modelNameCandidates } from "../pricing/normalize-model.js";
import type { CostUsage, Pricer } from "../pricing/types.js";
import type { UsageTotals } from "../stores/types.js";
import { resolveRange, type RangeInput } from "./range.js";
import type { UsageQueries } from "./usage-queries.js";

export type RecommendationKind = "cheaper-model" | "low-cache-hit" | "failed-calls" | "agent-cost-growth" | "unpriced-usage";
export type RecommendationSeverity = "info" | "warning" | "critical";

export interface Recommendation {
  /** Stable per kind and subject, e.g. `cheaper-model:openai/gpt-4o`. */
  id: string;
  kind: RecommendationKind;
  title: string;
  detail: string;
  /** USD per 30 days, rounded to cents; null when the money at stake cannot be priced. */
  estimatedMonthlySavingUsd: number | null;
  /** What the suggestion is about: provider, model, suggested model, agent. */
  subject: Record<string, string>;
  /** The numbers the suggestion rests on (token averages, rates, nano-dollar amounts over the range). */
  evidence: Record<string, number>;
  severity: RecommendationSeverity;
}

export interface RecommendationOptions extends RangeInput {
  userId?: string;
  /** Prices for the re-pricing. @default the offline catalog (`calculateCost`) */
  pricer?: Pricer;
}

/** Known same-provider downgrades, keyed by normalised model name (see `modelNameCandidates`). */
export const CHEAPER_MODELS: Readonly<Record<string, string>> = {
  "gpt-4o": "gpt-4o-mini",
  "gpt-4.1": "gpt-4.1-mini",
  "gpt-4-turbo": "gpt-4o-mini",
  o3: "o4-mini",
  o1: "o4-mini",
  "claude-sonnet-4": "claude-3-5-haiku",
  "claude-sonnet-4-0": "claude-3-5-haiku",
  "claude-3-7-sonnet": "claude-3-5-haiku",
  "claude-3-5-sonnet": "claude-3-5-haiku",
  "claude-opus-4": "claude-sonnet-4",
  "gemini-2.5-pro": "gemini-2.5-flash",
  "gemini-1.5-pro": "gemini-1.5-flash",
};
/** A model whose successful calls average fewer output tokens than this is a downgrade candidate. */
export const SHORT_OUTPUT_TOKENS = 300;
/** Calls a model needs in the range before its averages are trusted. */
export const MIN_CALLS = 20;
/** A prompt averaging more input tokens than this is worth caching... */
export const LONG_PROMPT_TOKENS = 2000;
/** ...when fewer than this share of its input tokens are cache reads. */
export const LOW_CACHE_READ_RATIO = 0.1;
/** The share of input assumed cacheable when estimating the caching saving. */
export const CACHEABLE_INPUT_SHARE = 0.5;
/** LangChain provider ids whose APIs offer prompt caching. */
export const CACHING_PROVIDERS: ReadonlySet<string> = new Set(["openai", "azure", "azure_openai", "anthropic", "google_genai", "google_vertexai", "bedrock", "deepseek"]);
/** Failed calls are reported above this error rate... */
export const ERROR_RATE_THRESHOLD = 0.05;
/** ...once at least this many failed; the rate is critical from `CRITICAL_ERROR_RATE`. */
export const MIN_FAILED_CALLS = 5;
export const CRITICAL_ERROR_RATE = 0.25;
/** Week-over-week growth of an agent's cost per request that is reported (0.25 = +25%)... */
export const AGENT_GROWTH_THRESHOLD = 0.25;
/** ...when the agent made at least this many requests in each of the two weeks. */
export const AGENT_GROWTH_MIN_REQUESTS = 20;
/** Monthly USD at stake from which a suggestion is a warning, and critical. */
export const WARNING_MONTHLY_USD = 10;
export const CRITICAL_MONTHLY_USD = 100;

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
const SEVERITY_RANK: Record<RecommendationSeverity, number> = { critical: 2, warning: 1, info: 0 };

type Aggregator = Pick<UsageQueries, "aggregate">;

export async function computeRecommendations(source: Aggregator, options: RecommendationOptions = {}): Promise<Recommendation[]> {
  const range = resolveRange(options);
  if (options.userId !== undefined && (typeof options.userId !== "string" || options.userId === "")) {
    throw new ValidationError("userId", `must be a non-empty string, got ${typeof options.userId}`);
  }
  const user = options.userId === undefined ? {} : { userId: options.userId };
  const price = (usage: CostUsage, model: string, provider: string) =>
    (options.pricer ? options.pricer.price(usage, { model, provider, timestamp: range.end }) : calculateCost(usage, { model, provider, timestamp: range.end }));
  const endMs = Date.parse(range.end);
  const week = (from: number) => ({ ...user, start: new Date(endMs - from).toISOString(), end: new Date(endMs - from + WEEK_MS).toISOString() });
  const [models, lastWeek, priorWeek] = await Promise.all([
    source.aggregate({ ...user, ...range }, ["provider", "model"]),
    source.aggregate(week(WEEK_MS), ["agent"]),
    source.aggregate(week(2 * WEEK_MS), ["agent"]),
  ]);
  const monthly = 30 / ((endMs - Date.parse(range.start)) / DAY_MS);
  const out: Recommendation[] = [];
  const add = (kind: RecommendationKind, key: string, subject: Record<string, string>, title: string, detail: string, evidence: Record<string, number>, monthlyNanos: number | null, severity?: RecommendationSeverity) => {
    const usd = monthlyNanos === null ? null : Math.round(monthlyNanos / 1e7) / 100;
    out.push({ id: `${kind}:${key}`, kind, title, detail, estimatedMonthlySavingUsd: usd, subject, evidence, severity: severity ?? severityOf(usd) });
  };

  for (const row of models) {
    const provider = row.key.provider ?? "";
    const model = row.key.model ?? "";
    const calls = row.requests - row.errors;
    const name = `${provider}/${model}`;
    const avg = averageCall(row, calls);
    if (calls >= MIN_CALLS && avg.outputTokens < SHORT_OUTPUT_TOKENS) {
      const cheaper = modelNameCandidates(model).map((c) => CHEAPER_MODELS[c]).find((c) => c !== undefined);
      const alt = cheaper === undefined ? null : price(avg, cheaper, provider);
      const savingNanos = alt?.priced ? row.costNanos - alt.totalCostNanos * calls : 0;
      if (cheaper !== undefined && alt && savingNanos > 0) {
        const evidence = { calls, avgInputTokens: avg.inputTokens, avgOutputTokens: avg.outputTokens, costNanos: row.costNanos, alternativeCostNanos: alt.totalCostNanos * calls, savingNanos };
        add("cheaper-model", name, { provider, model, suggestedModel: cheaper }, `Try ${cheaper} for ${model}`,
          `${model} answered ${calls} calls with ${Math.round(avg.outputTokens)} output tokens on average; the same tokens on ${cheaper} would cost ${pct(savingNanos / row.costNanos)} less. Route short tasks (classification, extraction, routing) to it and compare quality.`,
          evidence, savingNanos * monthly);
      }
    }
    const cacheRatio = row.inputTokens === 0 ? 0 : row.cacheReadTokens / row.inputTokens;
    if (calls >= MIN_CALLS && avg.inputTokens > LONG_PROMPT_TOKENS && cacheRatio < LOW_CACHE_READ_RATIO && CACHING_PROVIDERS.has(provider.toLowerCase())) {
      const cachedRead = Math.max(avg.cacheReadTokens ?? 0, Math.min(avg.inputTokens * CACHEABLE_INPUT_SHARE, avg.inputTokens - (avg.cacheWriteTokens ?? 0)));
      const now = price(avg, model, provider);
      const cached = price({ ...avg, cacheReadTokens: cachedRead }, model, provider);
      const savingNanos = (now.totalCostNanos - cached.totalCostNanos) * calls;
      if (now.priced && savingNanos > 0) {
        add("low-cache-hit", name, { provider, model }, `Enable prompt caching for ${model}`,
          `${model} prompts average ${Math.round(avg.inputTokens)} input tokens but only ${pct(cacheRatio)} are cache reads. Put the stable part (system prompt, tools, documents) first and mark it cacheable; the estimate assumes half the input is read from cache (cache-write surcharges not counted).`,
          { calls, avgInputTokens: avg.inputTokens, cacheReadRatio: cacheRatio, savingNanos }, savingNanos * monthly);
      }
    }
    const errorRate = row.requests === 0 ? 0 : row.errors / row.requests;
    if (row.errors >= MIN_FAILED_CALLS && errorRate > ERROR_RATE_THRESHOLD) {
      add("failed-calls", name, { provider, model }, `${pct(errorRate)} of ${model} calls fail`,
        `${row.errors} of ${row.requests} calls to ${model} failed. Check rate limits, timeouts and retries: failed calls cost latency and, when the prompt was consumed, tokens.`,
        { errors: row.errors, requests: row.requests, errorRate }, null, errorRate >= CRITICAL_ERROR_RATE ? "critical" : "warning");
    }
    if (row.unpriced > 0) {
      add("unpriced-usage", name, { provider, model }, `No price known for ${model}`,
        `${row.unpriced} calls to ${model} (${provider}) are recorded at $0 because no price is known, which hides their real cost. Add a price override (pricing option \`models\`, key "${name}") and re-price.`,
        { unpricedRequests: row.unpriced, requests: row.requests, inputTokens: row.inputTokens, outputTokens: row.outputTokens }, null, "warning");
    }
  }

  const before = new Map(priorWeek.map((r) => [r.key.agent, r]));
  for (const now of lastWeek) {
    const agent = now.key.agent;
    const prior = before.get(agent);
    if (agent === null || !prior || now.requests < AGENT_GROWTH_MIN_REQUESTS || prior.requests < AGENT_GROWTH_MIN_REQUESTS || prior.costNanos === 0) continue;
    const perNow = now.costNanos / now.requests;
    const perBefore = prior.costNanos / prior.requests;
    const growth = perNow / perBefore - 1;
    if (growth <= AGENT_GROWTH_THRESHOLD) continue;
    const extraNanos = Math.round((perNow - perBefore) * now.requests);
    add("agent-cost-growth", agent, { agent }, `Cost per request of agent ${agent} grew ${pct(growth)}`,
      `Agent ${agent} cost ${usd(perNow)} per request in the last 7 days against ${usd(perBefore)} the 7 days before (${now.requests} and ${prior.requests} requests). Look for longer prompts, more tool loops or a model change; the estimate is the extra spend at last week's volume.`,
      { requestsLastWeek: now.requests, requestsPriorWeek: prior.requests, costPerRequestLastWeekNanos: perNow, costPerRequestPriorWeekNanos: perBefore, growth, extraCostNanos: extraNanos }, extraNanos * (30 / 7));
  }

  return out.sort((a, b) =>
    (b.estimatedMonthlySavingUsd ?? 0) - (a.estimatedMonthlySavingUsd ?? 0) || SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || (a.id < b.id ? -1 : 1));
}

/** The average successful call; errors' tokens stay in the totals. */
function averageCall(t: UsageTotals, calls: number): Required<Omit<CostUsage, "reasoningTokens">> {
  const n = Math.max(1, calls);
  return { inputTokens: t.inputTokens / n, outputTokens: t.outputTokens / n, cacheReadTokens: t.cacheReadTokens / n, cacheWriteTokens: t.cacheWriteTokens / n };
}

function severityOf(usd: number | null): RecommendationSeverity {
  if (usd === null || usd < WARNING_MONTHLY_USD) return "info";
  return usd < CRITICAL_MONTHLY_USD ? "warning" : "critical";
}

const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
const usd = (nanos: number) => `$${(nanos / 1e9).toFixed(6)}`;
