/**
 * The bundled genai-prices catalog, used offline: only `calcPrice` (for its
 * provider and model matching) and `findProvider` are called; its update
 * functions never are, so prices change only with the pinned package version.
 *
 * Matching is done once per name (the caller memoises); the matched model's
 * prices are compiled into a `RateSchedule` for the shared arithmetic in
 * `rates.ts`.
 */
import { calcPrice, findProvider } from "@pydantic/genai-prices";
import type { ModelInfo, ModelPrice, ConditionalPrice } from "@pydantic/genai-prices";
import { aliasProviderId } from "./normalize-model.js";
import {
  perMillionToNanosPerToken,
  type PriceConstraint,
  type Rate,
  type RateCard,
  type RateSchedule,
} from "./rates.js";

/**
 * The installed genai-prices version. The package does not export its
 * package.json, so the version is pinned here next to the import; a test
 * checks it against the installed package.
 */
export const GENAI_PRICES_VERSION = "0.1.8";
export const CATALOG_SOURCE = `genai-prices@${GENAI_PRICES_VERSION}`;

export interface CatalogMatch {
  providerId: string;
  modelId: string;
  schedule: RateSchedule;
}

/**
 * The catalog provider id for a LangChain provider id: the alias table
 * first, then the catalog's own provider matching. Undefined when unknown.
 */
export function catalogProviderId(provider: string | undefined | null): string | undefined {
  if (!provider || provider.trim() === "") return undefined;
  const aliased = aliasProviderId(provider);
  if (aliased) return aliased;
  return findProvider({ providerId: provider.trim().toLowerCase() })?.id;
}

const ZERO_USAGE = { input_tokens: 0, output_tokens: 0 };

/**
 * The catalog model `name` matches, under `providerId` when given (the
 * catalog's own fallbacks apply: Azure to OpenAI, Vertex to Anthropic, ...),
 * by model name alone when not. Null when nothing matches.
 */
export function matchCatalog(providerId: string | undefined, name: string): CatalogMatch | null {
  let found;
  try {
    found = calcPrice(ZERO_USAGE, name, providerId ? { providerId } : undefined);
  } catch {
    // A catalog entry the library itself cannot price is treated as unknown.
    return null;
  }
  if (!found) return null;
  return { providerId: found.provider.id, modelId: found.model.id, schedule: compileSchedule(found.model) };
}

const compiled = new WeakMap<ModelInfo, RateSchedule>();

function compileSchedule(model: ModelInfo): RateSchedule {
  const cached = compiled.get(model);
  if (cached) return cached;
  const entries: ConditionalPrice[] = Array.isArray(model.prices) ? model.prices : [{ prices: model.prices }];
  const schedule = entries.map((e) => ({ constraint: compileConstraint(e.constraint), card: compileCard(e.prices) }));
  compiled.set(model, schedule);
  return schedule;
}

function compileConstraint(c: ConditionalPrice["constraint"]): PriceConstraint | undefined {
  if (!c) return undefined;
  if (c.type === "start_date") return { type: "start_date", startMs: Date.parse(`${c.start_date}T00:00:00Z`) };
  return { type: "time_of_day", startSec: secondsOfDayUtc(c.start_time), endSec: secondsOfDayUtc(c.end_time) };
}

/** `HH:MM:SS[.fff](Z|+HH:MM|-HH:MM)` -> seconds after midnight UTC. */
function secondsOfDayUtc(time: string): number {
  const m = /^(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(time);
  if (!m) throw new Error(`genai-prices: unreadable time-of-day constraint ${time}`);
  const local = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4] ?? 0);
  const offset = m[5] === "Z" ? 0 : (m[6] === "+" ? 1 : -1) * (Number(m[7]) * 3600 + Number(m[8]) * 60);
  return (((local - offset) % 86_400) + 86_400) % 86_400;
}

function compileRate(value: ModelPrice[string]): Rate | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number") return perMillionToNanosPerToken(value);
  return {
    base: perMillionToNanosPerToken(value.base),
    tiers: [...value.tiers]
      .sort((a, b) => a.start - b.start)
      .map((t) => ({ start: t.start, rate: perMillionToNanosPerToken(t.price) })),
  };
}

/**
 * Only the text-token prices apply to the usage this package records; audio,
 * image, per-request and tool prices have no counterpart in `CostUsage`.
 */
function compileCard(prices: ModelPrice): RateCard {
  const card: RateCard = {
    input: compileRate(prices.input_mtok) ?? 0,
    output: compileRate(prices.output_mtok) ?? 0,
  };
  const cacheRead = compileRate(prices.cache_read_mtok);
  const cacheWrite = compileRate(prices.cache_write_mtok);
  if (cacheRead !== undefined) card.cacheRead = cacheRead;
  if (cacheWrite !== undefined) card.cacheWrite = cacheWrite;
  return card;
}
