import { describe, expect, it } from "vitest";
import { catalogProviderId, modelNameCandidates } from "../../src/pricing/index.js";

describe("modelNameCandidates", () => {
  it.each<[string, string[]]>([
    ["gpt-4o", ["gpt-4o"]],
    ["GPT-4o-2024-08-06", ["gpt-4o-2024-08-06", "gpt-4o"]],
    ["claude-3-5-sonnet-latest", ["claude-3-5-sonnet-latest", "claude-3-5-sonnet"]],
    [
      "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
      [
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "anthropic.claude-3-5-sonnet-20241022-v2",
        "claude-3-5-sonnet-20241022-v2",
        "claude-3-5-sonnet-20241022",
        "claude-3-5-sonnet",
      ],
    ],
    ["apac.anthropic.claude-3-haiku-20240307-v1:0", [
      "apac.anthropic.claude-3-haiku-20240307-v1:0",
      "anthropic.claude-3-haiku-20240307-v1:0",
      "anthropic.claude-3-haiku-20240307-v1",
      "claude-3-haiku-20240307-v1",
      "claude-3-haiku-20240307",
      "claude-3-haiku",
    ]],
    // A version that is part of the model's name is kept.
    ["amazon.titan-embed-text-v2:0", ["amazon.titan-embed-text-v2:0", "amazon.titan-embed-text-v2", "titan-embed-text-v2"]],
    ["claude-3-5-sonnet@20240620", ["claude-3-5-sonnet@20240620", "claude-3-5-sonnet-20240620", "claude-3-5-sonnet"]],
    ["gemini-1.5-pro@002", ["gemini-1.5-pro@002", "gemini-1.5-pro"]],
    ["models/gemini-2.5-pro", ["models/gemini-2.5-pro", "gemini-2.5-pro"]],
    ["gpt-35-turbo", ["gpt-35-turbo", "gpt-3.5-turbo"]],
    ["gpt-35-turbo-0613", ["gpt-35-turbo-0613", "gpt-3.5-turbo-0613", "gpt-3.5-turbo"]],
    ["  ", []],
  ])("%s", (name, expected) => {
    expect(modelNameCandidates(name)).toEqual(expected);
  });
});

describe("catalogProviderId", () => {
  it.each<[string | undefined, string | undefined]>([
    ["openai", "openai"],
    ["azure", "azure"],
    ["anthropic", "anthropic"],
    ["google_genai", "google"],
    ["google_vertexai", "google"],
    ["bedrock", "aws"],
    ["amazon_bedrock", "aws"],
    ["groq", "groq"],
    ["mistralai", "mistral"],
    ["xai", "x-ai"],
    ["together_ai", "together"],
    ["ollama", undefined],
    ["", undefined],
    [undefined, undefined],
  ])("%s -> %s", (provider, expected) => {
    expect(catalogProviderId(provider)).toBe(expected);
  });
});
