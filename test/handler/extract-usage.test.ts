import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ExtractedUsage,
  MAX_UNITEMISED_THINKING,
  extractUsage,
  isLangChainCacheHit,
  observeStreamChunk,
} from "../../src/handler/extract-usage.js";
import { FIXTURE_NAMES, type ProviderFixture, loadFixture } from "../fixtures/providers.js";

function expectTruth(usage: ExtractedUsage, t: ProviderFixture["truth"]): void {
  expect(usage).toMatchObject({
    inputTokens: t.input,
    outputTokens: t.output,
    totalTokens: t.input + t.output,
    cacheReadTokens: t.cacheRead,
    cacheWriteTokens: t.cacheWrite,
    reasoningTokens: t.reasoning,
    found: true,
  });
}

/** The run's `ls_provider`, which the handler passes on (Gemini's invoke result names no provider). */
function lsProvider(f: ProviderFixture): unknown {
  return (f.start as any)?.metadata?.ls_provider;
}

function firstMessage(f: ProviderFixture): any {
  return f.end.output.generations[0][0].message;
}

/** A usage object with only the valid invariants every result must keep. */
function expectSane(u: ExtractedUsage): void {
  for (const key of ["inputTokens", "outputTokens", "totalTokens", "cacheReadTokens", "cacheWriteTokens", "reasoningTokens"] as const) {
    expect(Number.isSafeInteger(u[key]), key).toBe(true);
    expect(u[key]).toBeGreaterThanOrEqual(0);
  }
  expect(u.totalTokens).toBe(u.inputTokens + u.outputTokens);
  expect(u.cacheReadTokens + u.cacheWriteTokens).toBeLessThanOrEqual(u.inputTokens);
  expect(u.reasoningTokens).toBeLessThanOrEqual(u.outputTokens);
  if (!u.found) expect(u.inputTokens + u.outputTokens).toBe(0);
}

describe("extractUsage on captured provider fixtures", () => {
  it("has a fixture for every client and mode", () => {
    expect(FIXTURE_NAMES.length).toBeGreaterThanOrEqual(20);
  });

  for (const name of FIXTURE_NAMES) {
    it(`${name}: gives exactly the usage the server reported`, () => {
      const f = loadFixture(name);
      const usage = extractUsage(f.end.output, f.streamObservation, lsProvider(f));
      expectTruth(usage, f.truth);
      expect(usage.contradictedTotal).toBeNull();
      expect(usage.estimated).toBe(false);
      expect(usage.source).toBe("usage_metadata");
    });
  }

  it("n = 2: the request's usage on both candidates is counted once", () => {
    const f = loadFixture("openai-chat.invoke.n2");
    const gens = f.end.output.generations[0];
    expect(gens).toHaveLength(2);
    expect(gens[1].message.usage_metadata).toEqual(gens[0].message.usage_metadata);
    expect(extractUsage(f.end.output).inputTokens).toBe(f.truth.input);
  });

  it("separate prompts are separate requests: summed", () => {
    const a = loadFixture("openai-chat.invoke");
    const b = loadFixture("anthropic.invoke");
    const both = { generations: [a.end.output.generations[0], b.end.output.generations[0]] };
    const usage = extractUsage(both);
    expect(usage.inputTokens).toBe(a.truth.input + b.truth.input);
    expect(usage.cacheWriteTokens).toBe(b.truth.cacheWrite);
  });

  it("Anthropic streaming: message_start's provisional output is subtracted only when observed", () => {
    const f = loadFixture("anthropic.stream");
    expect(extractUsage(f.end.output).outputTokens).toBe(f.truth.output + 1);
    const obs = f.streamChunkFields.reduce((o, fields) => observeStreamChunk(o, fields), undefined);
    expect(obs?.anthropicStartOutputTokens).toBe(1);
    expect(extractUsage(f.end.output, obs).outputTokens).toBe(f.truth.output);
    // The same observation on a non-Anthropic result changes nothing.
    const other = loadFixture("openai-chat.stream");
    expect(extractUsage(other.end.output, obs).outputTokens).toBe(other.truth.output);
  });

  it("Gemini: thinking left out of output_tokens is recovered from the total", () => {
    const f = loadFixture("gemini.invoke");
    const um = firstMessage(f).usage_metadata;
    expect(um.output_tokens + um.input_tokens).toBeLessThan(um.total_tokens);
    const usage = extractUsage(f.end.output, undefined, lsProvider(f));
    expect(usage.outputTokens).toBe(f.truth.output);
    expect(usage.reasoningTokens).toBe(f.truth.reasoning);
    expect(usage.contradictedTotal).toBeNull();
  });

  it("Gemini streaming: the cache count summed per chunk is divided back, else clamped to input", () => {
    const f = loadFixture("gemini.stream");
    expect(f.streamObservation?.chunks).toBe(3);
    expect(firstMessage(f).usage_metadata.input_token_details.cache_read).toBe(3 * f.truth.cacheRead);
    expect(extractUsage(f.end.output, f.streamObservation).cacheReadTokens).toBe(f.truth.cacheRead);
    expect(extractUsage(f.end.output).cacheReadTokens).toBe(f.truth.input);
  });
});

describe("extractUsage fallbacks, never adding sources together", () => {
  it("llmOutput.tokenUsage when no message carries usage_metadata", () => {
    const f = loadFixture("openai-chat.invoke");
    delete firstMessage(f).usage_metadata;
    const usage = extractUsage(f.end.output);
    expect(usage).toMatchObject({ source: "llm_output_token_usage", inputTokens: f.truth.input, outputTokens: f.truth.output, estimated: false });
    // tokenUsage has no breakdown; none is invented.
    expect(usage.cacheReadTokens).toBe(0);
  });

  it("Anthropic raw llmOutput.usage: input_tokens excludes cache, so cache is added back", () => {
    const f = loadFixture("anthropic.invoke");
    const raw = f.end.output.llmOutput.usage;
    expect(raw.input_tokens).toBe(f.truth.input - f.truth.cacheRead - f.truth.cacheWrite);
    delete firstMessage(f).usage_metadata;
    const usage = extractUsage(f.end.output);
    expect(usage.source).toBe("provider_raw_usage");
    expectTruth(usage, f.truth);
  });

  it("usage_metadata of Anthropic already includes cache tokens: not added twice", () => {
    const f = loadFixture("anthropic.invoke");
    expect(firstMessage(f).usage_metadata.input_tokens).toBe(f.truth.input);
    expect(extractUsage(f.end.output).inputTokens).toBe(f.truth.input);
  });

  it("Bedrock raw response_metadata.usage (camelCase, exclusive input)", () => {
    const f = loadFixture("bedrock-converse.invoke");
    delete firstMessage(f).usage_metadata;
    const usage = extractUsage(f.end.output);
    expect(usage.source).toBe("provider_raw_usage");
    expectTruth(usage, f.truth);
  });

  it("OpenAI raw response_metadata.usage keeps cached and reasoning details", () => {
    const f = loadFixture("openai-chat.invoke");
    delete firstMessage(f).usage_metadata;
    delete f.end.output.llmOutput;
    const usage = extractUsage(f.end.output);
    expect(usage.source).toBe("provider_raw_usage");
    expectTruth(usage, f.truth);
  });

  it("Responses API estimatedTokenUsage is real usage in both shapes", () => {
    const invoke = loadFixture("openai-responses.invoke");
    expect(invoke.end.output.llmOutput.estimatedTokenUsage.promptTokens).toBe(invoke.truth.input);
    delete firstMessage(invoke).usage_metadata;
    expect(extractUsage(invoke.end.output)).toMatchObject({ source: "estimated_token_usage", estimated: false, inputTokens: invoke.truth.input });

    const streamed = loadFixture("openai-responses.streaming-invoke");
    expect(streamed.end.output.llmOutput.estimatedTokenUsage.input_tokens).toBe(streamed.truth.input);
    delete firstMessage(streamed).usage_metadata;
    delete firstMessage(streamed).response_metadata.usage;
    const usage = extractUsage(streamed.end.output);
    expect(usage).toMatchObject({ source: "estimated_token_usage", estimated: false });
    expectTruth(usage, streamed.truth);
  });

  it("Chat Completions streaming estimatedTokenUsage is a tiktoken estimate: estimated", () => {
    const f = loadFixture("openai-chat.streaming-invoke");
    delete firstMessage(f).usage_metadata;
    delete firstMessage(f).response_metadata.usage;
    const usage = extractUsage(f.end.output);
    expect(usage.source).toBe("estimated_token_usage");
    expect(usage.estimated).toBe(true);
    expect(usage.inputTokens).toBe(f.end.output.llmOutput.estimatedTokenUsage.promptTokens);
  });

  it("Gemini streaming's empty estimatedTokenUsage is no usage", () => {
    expect(extractUsage({ generations: [[{ text: "" }]], llmOutput: { estimatedTokenUsage: {} } }).found).toBe(false);
  });
});

describe("extractUsage never throws and never produces a corrupt count", () => {
  const um = (v: Record<string, unknown>) => ({ generations: [[{ text: "", message: { usage_metadata: v } }]] });

  it.each([
    ["string", "100"],
    ["NaN", Number.NaN],
    ["negative", -1],
    ["fraction", 1.5],
    ["too large", 2e9],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["missing", undefined],
    ["bigint", 10n],
  ])("%s input_tokens: treated as absent", (_label, bad) => {
    const usage = extractUsage(um({ input_tokens: bad, output_tokens: 5, total_tokens: 105 }));
    expect(usage.found).toBe(false);
    expectSane(usage);
  });

  it("a malformed detail is dropped, the rest kept", () => {
    const usage = extractUsage(um({ input_tokens: 10, output_tokens: 5, input_token_details: { cache_read: "7" }, output_token_details: { reasoning: -3 } }));
    expect(usage).toMatchObject({ found: true, inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, reasoningTokens: 0 });
  });

  it("a malformed usage_metadata falls through to the next source", () => {
    const out = { ...um({ input_tokens: "x", output_tokens: 1 }), llmOutput: { tokenUsage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 } } };
    expect(extractUsage(out)).toMatchObject({ found: true, source: "llm_output_token_usage", inputTokens: 7 });
  });

  it("inconsistent breakdowns are clamped", () => {
    const usage = extractUsage(um({ input_tokens: 10, output_tokens: 5, total_tokens: 15, input_token_details: { cache_read: 30, cache_creation: 8 }, output_token_details: { reasoning: 9 } }));
    expect(usage).toMatchObject({ cacheReadTokens: 10, cacheWriteTokens: 0, reasoningTokens: 5 });
  });

  it("a total below input + output is replaced by the sum, and reported as contradicted", () => {
    const usage = extractUsage(um({ input_tokens: 10, output_tokens: 5, total_tokens: 3 }));
    expect(usage).toMatchObject({ totalTokens: 15, contradictedTotal: 3 });
  });

  it("hostile inputs: cycles, throwing getters and proxies, wrong types", () => {
    const cyclic: any = { generations: [[{}]] };
    cyclic.generations[0][0].message = cyclic;
    cyclic.llmOutput = cyclic;
    const throwing = new Proxy({}, { get() { throw new Error("boom"); }, has() { throw new Error("boom"); } });
    const getter = { get generations() { throw new Error("boom"); } };
    const inputs: unknown[] = [undefined, null, 0, "x", [], [[]], {}, { generations: "x" }, { generations: [null, [null, 1, "a"]] }, cyclic, throwing, getter,
      { generations: [[{ message: throwing }]] }, { generations: [[{ message: { usage_metadata: throwing } }]], llmOutput: throwing }];
    for (const input of inputs) {
      const usage = extractUsage(input, { chunks: Number.NaN, anthropicStartOutputTokens: -5 });
      expect(usage.found).toBe(false);
      expectSane(usage);
    }
  });

  it("property: any input yields a sane result", () => {
    const count = fc.oneof(fc.integer({ min: -5, max: 2e9 }), fc.double(), fc.string(), fc.constant(undefined), fc.constant(null));
    const usageMetadata = fc.record(
      {
        input_tokens: count,
        output_tokens: count,
        total_tokens: count,
        input_token_details: fc.record({ cache_read: count, cache_creation: count }, { requiredKeys: [] }),
        output_token_details: fc.record({ reasoning: count }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    );
    const generation = fc.record({ text: fc.string(), message: fc.oneof(fc.record({ usage_metadata: usageMetadata }), fc.anything()) }, { requiredKeys: [] });
    const output = fc.oneof(
      fc.anything(),
      fc.record({
        generations: fc.array(fc.array(generation, { maxLength: 3 }), { maxLength: 3 }),
        llmOutput: fc.oneof(fc.anything(), fc.record({ tokenUsage: fc.record({ promptTokens: count, completionTokens: count, totalTokens: count }) })),
      }),
    );
    const observation = fc.oneof(fc.constant(undefined), fc.record({ chunks: count as fc.Arbitrary<any>, anthropicStartOutputTokens: count as fc.Arbitrary<any> }));
    fc.assert(
      fc.property(output, observation, (o, obs) => {
        expectSane(extractUsage(o, obs));
      }),
      { numRuns: 500 },
    );
  });
});

describe("observeStreamChunk", () => {
  it("counts calls and remembers only the first message_start output", () => {
    const f = loadFixture("anthropic.streaming-invoke");
    const [start, delta] = f.streamChunkFields;
    let obs = observeStreamChunk(undefined, undefined);
    obs = observeStreamChunk(obs, start);
    obs = observeStreamChunk(obs, delta);
    obs = observeStreamChunk(obs, { chunk: { message: { response_metadata: { model_provider: "anthropic" }, additional_kwargs: { type: "message" }, usage_metadata: { output_tokens: 99 } } } });
    expect(obs).toEqual({ chunks: 4, anthropicStartOutputTokens: 1 });
  });

  it("never throws on junk", () => {
    const throwing = new Proxy({}, { get() { throw new Error("boom"); } });
    expect(observeStreamChunk(undefined, throwing)).toEqual({ chunks: 1 });
    expect(observeStreamChunk({ chunks: 1 }, { chunk: null })).toEqual({ chunks: 2 });
  });
});

describe("isLangChainCacheHit", () => {
  it("is true only for extraParams.cached === true", () => {
    expect(isLangChainCacheHit({ cached: true })).toBe(true);
    for (const v of [undefined, null, {}, { cached: "true" }, { cached: 1 }, "cached", new Proxy({}, { get() { throw new Error("x"); } })]) {
      expect(isLangChainCacheHit(v)).toBe(false);
    }
  });
});

describe("an inflated total (input 10, output 5, total 999,999,999) is never billed", () => {
  const INFLATED = 999_999_999;
  const message = (provider: string | undefined, usage: Record<string, unknown>, raw?: Record<string, unknown>) => ({
    generations: [[{ text: "", message: { usage_metadata: usage, response_metadata: { ...(provider ? { model_provider: provider } : {}), ...(raw ? { usage: raw } : {}) } } }]],
  });
  const metadata = { input_tokens: 10, output_tokens: 5, total_tokens: INFLATED };
  const shapes: Array<[string, unknown, string | undefined]> = [
    ["OpenAI usage_metadata", message("openai", metadata), "openai"],
    ["OpenAI raw usage", { generations: [[{ text: "" }]], llmOutput: { usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: INFLATED } } }, "openai"],
    ["OpenAI llmOutput.tokenUsage", { generations: [[{ text: "" }]], llmOutput: { tokenUsage: { promptTokens: 10, completionTokens: 5, totalTokens: INFLATED } } }, "openai"],
    ["OpenAI Responses raw usage", { generations: [[{ text: "", message: { response_metadata: { usage: { input_tokens: 10, output_tokens: 5, total_tokens: INFLATED } } } }]] }, "openai"],
    ["Anthropic usage_metadata", message("anthropic", metadata), "anthropic"],
    ["Bedrock usage_metadata", message("bedrock-converse", metadata), "bedrock"],
    ["Bedrock raw usage", { generations: [[{ text: "" }]], llmOutput: { usage: { inputTokens: 10, outputTokens: 5, totalTokens: INFLATED } } }, "bedrock"],
    ["Gemini usage_metadata (past the thinking bound)", message("google-genai", metadata), "google_genai"],
    ["Gemini llmOutput.tokenUsage (past the thinking bound)", { generations: [[{ text: "" }]], llmOutput: { tokenUsage: { promptTokens: 10, completionTokens: 5, totalTokens: INFLATED } } }, "google_genai"],
    ["no provider known", message(undefined, metadata), undefined],
  ];
  for (const [name, output, provider] of shapes) {
    it(`${name}: input and output as reported, the total contradicted`, () => {
      const usage = extractUsage(output, undefined, provider);
      expect(usage).toMatchObject({ found: true, inputTokens: 10, outputTokens: 5, totalTokens: 15, reasoningTokens: 0, contradictedTotal: INFLATED });
      expectSane(usage);
    });
  }

  it("Gemini: a thinking gap within the bound is output and reasoning; one token past it is not", () => {
    const within = extractUsage(message("google-genai", { input_tokens: 10, output_tokens: 5, total_tokens: 15 + MAX_UNITEMISED_THINKING }));
    expect(within).toMatchObject({ outputTokens: 5 + MAX_UNITEMISED_THINKING, reasoningTokens: MAX_UNITEMISED_THINKING, contradictedTotal: null });
    const past = extractUsage(message("google-genai", { input_tokens: 10, output_tokens: 5, total_tokens: 16 + MAX_UNITEMISED_THINKING }));
    expect(past).toMatchObject({ outputTokens: 5, reasoningTokens: 0, contradictedTotal: 16 + MAX_UNITEMISED_THINKING });
  });

  it("the thinking correction is Google's only: the same gap from OpenAI is not output", () => {
    const gap = { input_tokens: 1500, output_tokens: 120, total_tokens: 1920 };
    expect(extractUsage(message("google-genai", gap))).toMatchObject({ outputTokens: 420, reasoningTokens: 300 });
    expect(extractUsage(message("openai", gap))).toMatchObject({ outputTokens: 120, reasoningTokens: 0, contradictedTotal: 1920 });
    // The ls_provider hint decides when the result itself names no provider.
    expect(extractUsage(message(undefined, gap), undefined, "google_genai")).toMatchObject({ outputTokens: 420 });
    expect(extractUsage(message(undefined, gap), undefined, "openai")).toMatchObject({ outputTokens: 120 });
  });
});
