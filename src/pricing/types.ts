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
