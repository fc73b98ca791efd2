/**
 * The provider of an imported row that names only its model. Only first-party model
 * families are inferred (a `gpt-4o` row is OpenAI's model, a `claude-` row Anthropic's);
 * open-weight families such as Llama, Qwen or Mixtral are served by many providers at
 * different prices, so a row naming one needs its own provider column.
 */
import { aliasProviderId } from "../../pricing/normalize-model.js";

const FAMILIES: ReadonlyArray<[RegExp, string]> = [
  [/^(gpt-|chatgpt-|o[1-9](-|$)|text-embedding-(3|ada)|davinci-|babbage-|dall-e-|whisper-|tts-|omni-moderation-|codex-)/, "openai"],
  [/^claude-/, "anthropic"],
  [/^(gemini-|text-embedding-004|text-embedding-005|gemini-embedding-|textembedding-gecko)/, "google"],
  [/^(mistral-(large|medium|small|tiny|saba|embed|ocr)|codestral|ministral|pixtral|magistral|devstral)/, "mistral"],
  [/^(command-|embed-(english|multilingual)|rerank-)/, "cohere"],
  [/^deepseek-(chat|reasoner)$/, "deepseek"],
  [/^grok-/, "xai"],
];

/** The provider, or undefined when the model name does not settle it. */
export function inferProvider(model: string): string | undefined {
  const name = model.trim().toLowerCase();
  // `anthropic/claude-sonnet-4` (LiteLLM, OpenRouter style): the prefix names it when it is a provider we know.
  const slash = /^([a-z0-9_.-]+)\/(.+)$/.exec(name);
  if (slash && aliasProviderId(slash[1])) return slash[1];
  return FAMILIES.find(([pattern]) => pattern.test(name))?.[1];
}
