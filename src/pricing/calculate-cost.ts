/**
 * The pricer: (usage, context) -> cost in integer nano-dollars and USD.
 *
 * Representation: every cost is computed as an integer number of nano-dollars
 * (1e-9 USD), the authoritative figure that is stored and summed, because
 * integers add exactly over millions of records where float dollars drift.
 * Input and output are each rounded once to the nearest nano-dollar; total =
 * input + output; the USD numbers are `nanos / 1e9`, for display.
 *
 * Resolution order for a call: an Azure deployment mapping (overrides) turns
 * the deployment into its model; then, for each name candidate (the name as
 * given, then normalised forms, see `normalize-model.ts`), an override keyed
 * `provider/model` or `model`; then the genai-prices catalog under the
 * provider (by model alone when the provider is absent or unknown). Nothing
 * found: the call is unpriced (cost 0, `priced: false`) and one warning is
 * logged per (provider, model); another model's price is never used.
 *
 * Resolution is memoised per (provider, deployment, model), so a repeated
 * call costs three Map lookups before the arithmetic.
 */
import { ValidationError } from "../errors.js";
import { epochMsFromIso } from "../record/iso-time.js";
import { CATALOG_SOURCE, catalogProviderId, matchCatalog } from "./catalog.js";
import { modelNameCandidates } from "./normalize-model.js";
import { canonicalOverrideKey, compileOverride, overrideKey, validatePricingOptions } from "./overrides.js";
import { checkUsage, costNanos, selectCard, type RateSchedule } from "./rates.js";
import type { CostContext, CostResult, CostUsage, Pricer, PricingLogger, PricingOptions } from "./types.js";

/** The source recorded for a user override. */
export const OVERRIDE_SOURCE = "override";

/** Memo entries kept before the memo is cleared (guards against unbounded model names). */
const MEMO_LIMIT = 10_000;

interface Resolution {
  schedule: RateSchedule | null;
  source: string | null;
  model: string | null;
  provider: string | null;
  multiplier: number;
}

function parseTimestamp(ts: CostContext["timestamp"]): number {
  if (ts === undefined) return Date.now();
  const ms = ts instanceof Date ? ts.getTime() : typeof ts === "string" ? epochMsFromIso(ts) : NaN;
  if (Number.isNaN(ms)) throw new ValidationError("timestamp", `is not a valid date: ${String(ts)}`);
  return ms;
}

/** Creates a pricer; `options` are validated here (throws `PricingConfigError`). */
/** A Bedrock cross-region inference profile names its geography first: `eu.anthropic.claude-...`. */
const PROFILE_PREFIX = /^(us|eu|apac|us-gov|ca|jp|au|global)\./i;

export function createPricer(options: PricingOptions = {}): Pricer {
  validatePricingOptions(options);
  const logger: PricingLogger = options.logger ?? console;

  const overrides = new Map<string, { key: string; schedule: RateSchedule }>();
  for (const [key, value] of Object.entries(options.models ?? {})) {
    overrides.set(canonicalOverrideKey(key), { key: key.trim(), schedule: compileOverride(value) });
  }
  const deployments = new Map<string, string>();
  for (const [name, model] of Object.entries(options.azureDeployments ?? {})) deployments.set(name.trim(), model.trim());
  // Keyed `provider` or `provider:qualifier`, the qualifier being a Bedrock inference-profile
  // prefix (`bedrock:eu` for cross-region profiles) or an Azure deployment (a data-zone one).
  const multipliers = new Map<string, number>();
  for (const [key, factor] of Object.entries(options.multipliers ?? {})) {
    const [providerPart, ...rest] = key.trim().toLowerCase().split(":");
    const p = catalogProviderId(providerPart) ?? providerPart;
    multipliers.set(rest.length ? `${p}:${rest.join(":")}` : p, factor);
  }

  const warned = new Set<string>();
  // provider -> deployment -> model -> resolution
  const memo = new Map<string, Map<string, Map<string, Resolution>>>();
  let memoSize = 0;

  function resolve(providerRaw: string, deployment: string, model: string): Resolution {
    const catalogProvider = catalogProviderId(providerRaw);
    // Canonical id for overrides and multipliers: an unknown provider keeps its own (lower-cased) name.
    let provider = catalogProvider ?? (providerRaw.trim().toLowerCase() || undefined);
    let name = model;
    if (deployments.size && (provider === undefined || provider === "azure")) {
      const mapped = (deployment && deployments.get(deployment)) || deployments.get(model.trim());
      if (mapped) {
        name = mapped;
        provider = "azure";
      }
    }
    const qualifier = provider === "azure" ? deployment : (PROFILE_PREFIX.exec(model.trim())?.[1] ?? "");
    const multiplier = (provider && ((qualifier && multipliers.get(`${provider}:${qualifier.toLowerCase()}`)) || multipliers.get(provider))) || 1;
    const candidates = modelNameCandidates(name);

    for (const candidate of candidates) {
      const hit = (provider && overrides.get(overrideKey(provider, candidate))) || overrides.get(candidate);
      if (hit) {
        return { schedule: hit.schedule, source: OVERRIDE_SOURCE, model: hit.key, provider: provider ?? null, multiplier };
      }
    }
    const lookupProvider = provider === "azure" ? "azure" : catalogProvider;
    for (const candidate of candidates) {
      const match = matchCatalog(lookupProvider, candidate);
      if (match) {
        return { schedule: match.schedule, source: CATALOG_SOURCE, model: match.modelId, provider: match.providerId, multiplier };
      }
    }

    const warnKey = `${providerRaw}\u0000${name}`;
    if (!warned.has(warnKey)) {
      if (warned.size >= MEMO_LIMIT) warned.clear();
      warned.add(warnKey);
      logger.warn(
        `langchain-token-tracking: no price known for model "${name}"` +
          (providerRaw ? ` (provider "${providerRaw}")` : "") +
          "; its calls are recorded as unpriced (cost 0). Add a price with the pricing option `models`.",
      );
    }
    return { schedule: null, source: null, model: null, provider: null, multiplier };
  }

  function lookup(ctx: CostContext): Resolution {
    if (typeof ctx.model !== "string") throw new ValidationError("model", "must be a string");
    const provider = ctx.provider ?? "";
    const deployment = ctx.deployment ?? "";
    let byDeployment = memo.get(provider);
    if (!byDeployment) memo.set(provider, (byDeployment = new Map()));
    let byModel = byDeployment.get(deployment);
    if (!byModel) byDeployment.set(deployment, (byModel = new Map()));
    let res = byModel.get(ctx.model);
    if (!res) {
      if (memoSize >= MEMO_LIMIT) {
        memo.clear();
        memoSize = 0;
        memo.set(provider, (byDeployment = new Map([[deployment, (byModel = new Map())]])));
      }
      res = resolve(provider, deployment.trim(), ctx.model);
      byModel.set(ctx.model, res);
      memoSize++;
    }
    return res;
  }

  return {
    price(usage: CostUsage, ctx: CostContext): CostResult {
      const counts = checkUsage(usage);
      const res = lookup(ctx);
      if (!res.schedule) return unpriced();
      const card = selectCard(res.schedule, parseTimestamp(ctx.timestamp));
      const { inputNanos, outputNanos } = costNanos(card, counts, res.multiplier);
      const totalNanos = inputNanos + outputNanos;
      return {
        inputCost: inputNanos / 1e9,
        outputCost: outputNanos / 1e9,
        totalCost: totalNanos / 1e9,
        inputCostNanos: inputNanos,
        outputCostNanos: outputNanos,
        totalCostNanos: totalNanos,
        priced: true,
        priceSource: res.source,
        matchedModel: res.model,
        matchedProvider: res.provider,
      };
    },
  };
}

function unpriced(): CostResult {
  return {
    inputCost: 0,
    outputCost: 0,
    totalCost: 0,
    inputCostNanos: 0,
    outputCostNanos: 0,
    totalCostNanos: 0,
    priced: false,
    priceSource: null,
    matchedModel: null,
    matchedProvider: null,
  };
}

let defaultPricer: Pricer | undefined;

/** Prices one call with the catalog only (no overrides), through a shared pricer. */
export function calculateCost(usage: CostUsage, ctx: CostContext): CostResult {
  defaultPricer ??= createPricer();
  return defaultPricer.price(usage, ctx);
}
