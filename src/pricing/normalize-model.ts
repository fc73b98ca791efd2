/**
 * Model-name and provider-id normalisation.
 *
 * Providers spell one model many ways: dated snapshots, `-latest` aliases,
 * Bedrock ids with inference-profile and vendor prefixes, Vertex `@` versions,
 * Azure's `gpt-35`, Google's `models/` prefix. `modelNameCandidates` turns a
 * name into an ordered list: the name as given first, then ever more
 * normalised forms, so an exact catalog entry always wins over a stripped one.
 * None of these steps swaps one model for another: they only remove packaging.
 */

/** LangChain `ls_provider` ids (and a few common spellings) -> catalog provider ids. */
const PROVIDER_ALIASES: Readonly<Record<string, string>> = {
  openai: "openai",
  azure: "azure",
  azure_openai: "azure",
  azureopenai: "azure",
  anthropic: "anthropic",
  google: "google",
  google_genai: "google",
  google_vertexai: "google",
  google_anthropic_vertex: "google",
  vertexai: "google",
  vertex_ai: "google",
  gemini: "google",
  bedrock: "aws",
  amazon_bedrock: "aws",
  aws: "aws",
  bedrock_converse: "aws",
  groq: "groq",
  mistral: "mistral",
  mistralai: "mistral",
  cohere: "cohere",
  deepseek: "deepseek",
  xai: "x-ai",
  "x-ai": "x-ai",
  fireworks: "fireworks",
  together: "together",
  togetherai: "together",
  together_ai: "together",
  cerebras: "cerebras",
  perplexity: "perplexity",
  openrouter: "openrouter",
  moonshot: "moonshotai",
  moonshotai: "moonshotai",
};

/**
 * The catalog provider id for a LangChain provider id, or undefined when the
 * alias table does not know it (the caller may still ask the catalog).
 */
export function aliasProviderId(provider: string | undefined | null): string | undefined {
  if (!provider) return undefined;
  return PROVIDER_ALIASES[provider.trim().toLowerCase()];
}

/** Bedrock cross-region inference-profile prefixes (`us.anthropic.claude-...`). */
const BEDROCK_PROFILE = /^(?:us|eu|apac|ap|us-gov|global|jp|au|ca|sa)\./;
/** Bedrock vendor prefixes (`anthropic.claude-...`, `meta.llama3-...`). */
const BEDROCK_VENDOR =
  /^(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|openai|qwen|writer|stability|twelvelabs|luma)\./;
/** Bedrock model version suffix `:0`. */
const BEDROCK_REVISION = /:\d+$/;
/** Bedrock `-v2` after a date snapshot (`-20241022-v2`); `titan-embed-text-v2` keeps its `-v2`. */
const BEDROCK_DATED_VERSION = /(-\d{8})-v\d+$/;
/** Vertex `@20240620` snapshot. */
const VERTEX_DATE = /@(\d{8})$/;
const VERTEX_OTHER = /@[^@/]*$/;
const LATEST = /-latest$/;
/** `-2024-08-06` or `-20240806` at the end. */
const DATE_SUFFIX = /-(?:\d{4}-\d{2}-\d{2}|20\d{6})$/;
/** OpenAI's older `-0613` / `-1106` month-day snapshots. */
const MONTH_DAY_SUFFIX = /-(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$/;

type Step = (name: string) => string;

const STEPS: readonly Step[] = [
  (n) => (n.startsWith("models/") ? n.slice("models/".length) : n),
  (n) => n.replace(BEDROCK_PROFILE, ""),
  (n) => n.replace(BEDROCK_REVISION, ""),
  (n) => n.replace(BEDROCK_VENDOR, ""),
  (n) => n.replace(BEDROCK_DATED_VERSION, "$1"),
  (n) => (VERTEX_DATE.test(n) ? n.replace(VERTEX_DATE, "-$1") : n.replace(VERTEX_OTHER, "")),
  (n) => n.replace(/^gpt-35(?=-|$)/, "gpt-3.5"),
  (n) => n.replace(LATEST, ""),
  (n) => n.replace(DATE_SUFFIX, ""),
  (n) => n.replace(MONTH_DAY_SUFFIX, ""),
];

/**
 * The names to try for `model`, lower-cased, the name as given first and then
 * each cumulative normalisation step that changed it. Never empty for a
 * non-blank name.
 */
export function modelNameCandidates(model: string): string[] {
  let name = model.trim().toLowerCase();
  if (name === "") return [];
  const out = [name];
  for (const step of STEPS) {
    const next = step(name);
    if (next !== name && next !== "") {
      name = next;
      if (!out.includes(name)) out.push(name);
    }
  }
  return out;
}
