/** The pricing contract: what the rest of the package asks of `pricing/`. */

export interface CostUsage {
  /** Inclusive of cache reads and writes. */
  inputTokens: number;
  /** Inclusive of reasoning tokens. */
  outputTokens: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
}

export interface CostContext {
  model: string;
  /** LangChain's `ls_provider` id: openai, azure, anthropic, google_genai, bedrock, ... */
  provider?: string;
  /** Azure deployment name (mapped to a model by overrides). */
  deployment?: string | null;
  /** When the call was made: the price in force then is used. Default: now. */
  timestamp?: Date | string;
}

export interface CostResult {
  /** USD (display). */
  inputCost: number;
  outputCost: number;
  totalCost: number;
  /** Integer nano-dollars: the exact figures stored and summed. */
  inputCostNanos: number;
  outputCostNanos: number;
  totalCostNanos: number;
  /** False when no price is known: every cost is 0 and must be reported as unpriced. */
  priced: boolean;
  /** `genai-prices@<version>`, `override`, ... or null when unpriced. */
  priceSource: string | null;
  /** The catalog or override model the name resolved to. */
  matchedModel: string | null;
  matchedProvider: string | null;
}

export interface Pricer {
  price(usage: CostUsage, context: CostContext): CostResult;
}

/** Where pricing warnings (an unknown model, ...) go. Default: `console.warn`. */
export interface PricingLogger {
  warn(message: string): void;
}

/** Prices in force above a prompt size: the whole call is priced at these rates. */
export interface PriceTierOverride {
  /** The tier applies when the prompt (input tokens, cache included) exceeds this many tokens. */
  above: number;
  /** USD per 1M tokens; an omitted rate keeps the rate in force below this tier. */
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
}

/** A price given by the user, in USD per 1M tokens. */
export interface ModelPriceOverride {
  input: number;
  output: number;
  /** Rate for cache-read input tokens; omitted: they are priced as plain input. */
  cacheRead?: number;
  /** Rate for cache-write input tokens; omitted: they are priced as plain input. */
  cacheWrite?: number;
  tiers?: PriceTierOverride[];
}

export interface PricingOptions {
  /** Prices that win over the catalog, keyed by `model` or `provider/model`. */
  models?: Record<string, ModelPriceOverride>;
  /** Azure deployment name -> the model it serves. */
  azureDeployments?: Record<string, string>;
  /**
   * Factor applied to the final cost of a provider's calls, e.g. `{ azure: 1.1 }`, or of
   * one region: `bedrock:eu` (calls through an `eu.` cross-region inference profile) or
   * `azure:<deployment>` (a data-zone deployment). The most specific key wins.
   */
  multipliers?: Record<string, number>;
  /** Receives the one-time warnings. @default console */
  logger?: PricingLogger;
}
