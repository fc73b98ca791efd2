/** Public API of the pricing module: re-exports only. */
export { createPricer, calculateCost, OVERRIDE_SOURCE } from "./calculate-cost.js";
export { GENAI_PRICES_VERSION, CATALOG_SOURCE, catalogProviderId } from "./catalog.js";
export { modelNameCandidates } from "./normalize-model.js";
export {
  loadPricingOverridesFile,
  mergePricingOptions,
  validatePricingOptions,
  MIN_PER_MILLION_PRICE,
} from "./overrides.js";
export { loadLiteLLMPrices, MAX_PER_TOKEN_PRICE } from "./litellm.js";
export type {
  CostUsage,
  CostContext,
  CostResult,
  Pricer,
  PricingLogger,
  PricingOptions,
  ModelPriceOverride,
  PriceTierOverride,
} from "./types.js";
