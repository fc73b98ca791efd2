/**
 * Fuzzing the two doors through which outside data enters a record:
 * - the callback handler, fed malformed LLMResults and start arguments (missing fields,
 *   strings, NaN, negatives, 2^53, Infinity, nested junk, huge metadata, cycles, getters
 *   that throw, Proxies): it must never throw and every record it emits must pass the
 *   independent invariants of `record-invariants.ts`;
 * - `monitor.trackUsage`: a valid input with one field broken must be rejected with a
 *   ValidationError naming exactly that field; random inputs are either valid records
 *   or ValidationErrors naming one of the input's fields.
 *
 * Deterministic: a fixed seed. More cases: `FUZZ_RUNS=200000 npx vitest run test/fuzz`;
 * another seed: `FUZZ_SEED=123`. A failure prints the seed and the shrunk counterexample.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { TokenTrackingCallbackHandler } from "../../src/handler/token-tracking-handler.js";
import { createTokenMonitor } from "../../src/monitor/token-monitor.js";
import { createPricer } from "../../src/pricing/index.js";
import type { UsageRecord } from "../../src/record/types.js";
import { SqliteUsageStore } from "../../src/stores/sqlite/index.js";
import { recordProblems } from "./record-invariants.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_523);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const quiet = { warn: () => undefined, error: () => undefined };
const pricer = createPricer({ logger: quiet });

// ------------------------------------------------------------------ generators

const nastyNumber = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, -1, -0, 0.5, 2 ** 53, 2 ** 53 + 2, 1e9, 1e9 + 1, Number.MAX_VALUE, Number.MIN_VALUE),
  fc.nat(5000),
  fc.integer(),
  fc.double(),
  fc.constantFrom("12", "", "1e3", "NaN"),
  fc.constant(null),
  fc.constant(undefined),
);
const anyString = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: "binary", maxLength: 40 }), fc.constant("x".repeat(5000)));
const junk: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    nastyNumber,
    anyString,
    fc.boolean(),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie("value"), { maxKeys: 5 }),
  ),
})).value;
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });
const orJunk = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: a }, { weight: 1, arbitrary: junk });

const usageMetadata = orJunk(
  fc.record(
    {
      input_tokens: nastyNumber,
      output_tokens: nastyNumber,
      total_tokens: nastyNumber,
      input_token_details: orJunk(fc.record({ cache_read: nastyNumber, cache_creation: nastyNumber }, { requiredKeys: [] })),
      output_token_details: orJunk(fc.record({ reasoning: nastyNumber }, { requiredKeys: [] })),
    },
    { requiredKeys: [] },
  ),
);
const rawUsage = orJunk(
  fc.record(
    {
      prompt_tokens: nastyNumber,
      completion_tokens: nastyNumber,
      total_tokens: nastyNumber,
      input_tokens: nastyNumber,
      output_tokens: nastyNumber,
      inputTokens: nastyNumber,
      outputTokens: nastyNumber,
      cache_read_input_tokens: nastyNumber,
      cache_creation_input_tokens: nastyNumber,
      cacheReadInputTokens: nastyNumber,
      prompt_tokens_details: orJunk(fc.record({ cached_tokens: nastyNumber }, { requiredKeys: [] })),
    },
    { requiredKeys: [] },
  ),
);
const generation = orJunk(
  fc.record(
    {
      text: anyString,
      message: orJunk(
        fc.record(
          {
            usage_metadata: usageMetadata,
            response_metadata: orJunk(
              fc.record({ model_name: anyString, model: anyString, model_provider: anyString, usage: rawUsage }, { requiredKeys: [] }),
            ),
            additional_kwargs: junk,
          },
          { requiredKeys: [] },
        ),
      ),
      generationInfo: junk,
    },
    { requiredKeys: [] },
  ),
);
const llmResult = orJunk(
  fc.record(
    {
      generations: orJunk(fc.array(orJunk(fc.array(generation, { maxLength: 3 })), { maxLength: 3 })),
      llmOutput: orJunk(
        fc.record(
          {
            tokenUsage: orJunk(fc.record({ promptTokens: nastyNumber, completionTokens: nastyNumber, totalTokens: nastyNumber }, { requiredKeys: [] })),
            estimatedTokenUsage: junk,
            usage: rawUsage,
            model_name: anyString,
            id: anyString,
          },
          { requiredKeys: [] },
        ),
      ),
    },
    { requiredKeys: [] },
  ),
);
const hugeMetadata = fc.nat(120).map((n) => {
  const m: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) m[`k${i}`] = i % 3 === 1 ? "v".repeat(1500) : i % 3 === 2 ? "é€".repeat(500) : { deep: { deeper: { deepest: { bottom: [i, "é".repeat(900)] } } } };
  return m;
});
const startMetadata = orJunk(
  fc.oneof(
    { weight: 6, arbitrary: fc.record(
      {
        user_id: orJunk(anyString),
        thread_id: orJunk(anyString),
        ls_provider: orJunk(anyString),
        ls_model_name: orJunk(anyString),
        lc_agent_name: orJunk(anyString),
        dimensions: junk,
        tenant: junk,
        app: junk,
        api_key: anyString,
        when: fc.date({ noInvalidDate: false }),
        big: fc.bigInt(),
      },
      { requiredKeys: [] },
    ) },
    { weight: 1, arbitrary: hugeMetadata },
  ),
);
const serialized = orJunk(
  fc.record(
    { lc: fc.constant(1), type: fc.constant("constructor"), id: orJunk(fc.array(anyString, { maxLength: 3 })), kwargs: junk },
    { requiredKeys: [] },
  ),
);
/** How an argument is made hostile after generation (applied to a copy). */
const hostility = fc.constantFrom("none", "none", "none", "cycle", "getter", "proxy", "frozen");

function poison(value: unknown, how: string, pick: number): unknown {
  if (how === "none" || value === null || typeof value !== "object") return value;
  const objects: object[] = [];
  const walk = (v: unknown, depth: number) => {
    if (v === null || typeof v !== "object" || depth > 5 || objects.includes(v)) return;
    objects.push(v);
    for (const k of Object.keys(v)) walk((v as Record<string, unknown>)[k], depth + 1);
  };
  walk(value, 0);
  const target = objects[pick % objects.length] as Record<string, unknown>;
  const keys = Object.keys(target);
  const key = keys.length ? keys[pick % keys.length] : "generations";
  if (how === "cycle") target[key] = value;
  else if (how === "getter") Object.defineProperty(target, key, { get: () => { throw new Error("getter exploded"); }, enumerable: true });
  else if (how === "proxy") {
    const boom = () => {
      throw new Error("proxy trap exploded");
    };
    target[key] = new Proxy({}, { get: boom, has: boom, ownKeys: boom, getPrototypeOf: boom, getOwnPropertyDescriptor: boom });
  } else if (how === "frozen") Object.freeze(target);
  return value;
}

const handlerCase = fc.record({
  serialized,
  runId: fc.uuid(),
  parentRunId: maybe(anyString),
  extraParams: orJunk(fc.record({ invocation_params: junk }, { requiredKeys: [] })),
  tags: orJunk(fc.array(anyString, { maxLength: 4 })),
  metadata: startMetadata,
  runName: maybe(orJunk(anyString)),
  output: llmResult,
  endExtra: orJunk(fc.record({ cached: orJunk(fc.boolean()) }, { requiredKeys: [] })),
  outcome: fc.constantFrom("end", "end", "end", "error"),
  error: junk,
  hostileStart: hostility,
  hostileOutput: hostility,
  pick: fc.nat(),
});

// ------------------------------------------------------------------ the handler

/** Collects what the handler emits, built at once whether it hands over records or builders. */
class CapturingSink {
  records: UsageRecord[] = [];
  buildFailures: string[] = [];
  enqueue(record: UsageRecord): void {
    this.records.push(record);
  }
  enqueueDeferred(build: () => UsageRecord | null): void {
    try {
      const r = build();
      if (r) this.records.push(r);
      else this.buildFailures.push("null");
    } catch (error) {
      this.buildFailures.push((error as Error).message);
    }
  }
}

describe("handler fuzz", () => {
  it(`never throws and never emits a corrupt record (${RUNS} cases, seed ${SEED})`, () => {
    const sink = new CapturingSink();
    const warnings: string[] = [];
    const handler = new TokenTrackingCallbackHandler({ sink, pricer, logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) } });
    let cases = 0;
    let records = 0;
    let plainRunsWithoutRecord = 0;
    const dropsByField = new Map<string, number>();
    fc.assert(
      fc.property(handlerCase, (c) => {
        cases++;
        sink.records = [];
        sink.buildFailures = [];
        const metadata = poison(structuredCloneSafe(c.metadata), c.hostileStart, c.pick);
        const output = poison(structuredCloneSafe(c.output), c.hostileOutput, c.pick);
        const call = (f: () => void) => expect(f).not.toThrow();
        call(() => handler.handleChatModelStart(c.serialized as never, [], c.runId, c.parentRunId as string, c.extraParams as never, c.tags as never, metadata as never, c.runName as string));
        if (c.outcome === "end") call(() => handler.handleLLMEnd(output as never, c.runId, undefined, undefined, c.endExtra as never));
        else call(() => handler.handleLLMError(c.error, c.runId));
        expect(sink.records.length).toBeLessThanOrEqual(1);
        for (const r of sink.records) {
          expect(recordProblems(r)).toEqual([]);
          expect(r.id).toBe(c.runId);
          if (c.outcome === "error") expect([r.error, r.inputTokens, r.outputTokens]).toEqual([true, 0, 0]);
        }
        // Start arguments that are plain data (hostile output is fine): the call must be recorded.
        // A call with plain-data start arguments that left no record: the only acceptable reason is a
        // validation of attribution data (named field), never a crash inside the handler.
        if (c.hostileStart === "none" && sink.records.length === 0) {
          plainRunsWithoutRecord++;
          const reason = sink.buildFailures[0] ?? warnings.at(-1) ?? "no reason given";
          const message = reason.replace(/^.*? not recorded: /, "");
          const field = message.startsWith("dimensions.") ? "dimensions.<key>" : (/^(\w+): /.exec(message)?.[1] ?? `unexplained: ${reason}`);
          dropsByField.set(field, (dropsByField.get(field) ?? 0) + 1);
        }
        warnings.length = 0;
        records += sink.records.length;
        expect(handler.openRuns).toBe(0); // nothing leaks, whatever happened
      }),
      { seed: SEED, numRuns: RUNS },
    );
    console.log(
      `[fuzz] handler: ${cases} cases, ${records} records checked; ${plainRunsWithoutRecord} runs with plain start arguments ` +
        `left no record, by rejected field: ${JSON.stringify(Object.fromEntries(dropsByField))}`,
    );
    expect(cases).toBeGreaterThanOrEqual(RUNS);
    expect(records).toBeGreaterThan(RUNS / 4);
    expect([...dropsByField.keys()].filter((k) => k.startsWith("unexplained"))).toEqual([]);
  });
});

/** A copy to poison, so shrinking replays the original values. */
function structuredCloneSafe<T>(v: T): T {
  try {
    return structuredClone(v);
  } catch {
    return v;
  }
}

// ------------------------------------------------------------------ trackUsage

const VALID = { provider: "openai", model: "gpt-4o-mini", inputTokens: 100, outputTokens: 20 };

/** For each field: values that must be rejected, and the field the error must name. */
const BAD: Array<{ field: string; values: unknown[]; named?: (v: unknown) => string; extra?: Record<string, unknown> }> = [
  { field: "provider", values: ["", "   ", 5, null, {}, [], "p".repeat(1025)] },
  { field: "model", values: ["", "\t", 0, false, { name: "x" }, "m".repeat(1025)] },
  { field: "inputTokens", values: [-1, 1.5, NaN, Infinity, -Infinity, "10", 2 ** 53, 1e9 + 1, null, undefined, {}] },
  { field: "outputTokens", values: [-1, 0.1, NaN, Infinity, "3", 2 ** 53, 1e9 + 1, null, [] ] },
  { field: "cacheReadTokens", values: [-1, 0.5, NaN, Infinity, "1", 2 ** 53, 101] },
  { field: "cacheWriteTokens", values: [-2, 2.5, NaN, "1", 2 ** 53, 101] },
  { field: "reasoningTokens", values: [-1, 0.5, NaN, "1", 2 ** 53, 21] },
  { field: "operation", values: ["chatx", "", 5, "CHAT", {}] },
  { field: "id", values: ["", "a/b", "q?x", "h#1", "b\\s", "i".repeat(256), 5, {}] },
  { field: "timestamp", values: ["not a date", NaN, Infinity, {}, true, "1999-12-31T23:59:59Z", [], -1e20] },
  { field: "deployment", values: [5, {}, "d".repeat(1025), true] },
  { field: "userId", values: [5, {}, "u".repeat(1025), []] },
  { field: "threadId", values: [1, { id: 1 }, "t".repeat(1025)] },
  { field: "agentName", values: [1, true, "a".repeat(1025)] },
  { field: "runId", values: [1, {}, "r".repeat(1025)] },
  { field: "parentRunId", values: [1, [], "r".repeat(1025)] },
  { field: "latencyMs", values: [-1, NaN, Infinity, "5", {}] },
  { field: "tags", values: ["a", 5, { a: 1 }, true] },
  { field: "dimensions", values: ["x", [], 5, true] },
  { field: "dimensions.bad key", values: [{ "bad key": "v" }], named: () => "dimensions.bad key" },
  { field: "dimensions.k", values: [{ k: {} }, { k: [1] }] },
  { field: "errorMessage", values: [5, {}, []], extra: { error: true } },
];

describe("trackUsage fuzz", () => {
  const monitor = createTokenMonitor({ store: new SqliteUsageStore({ path: ":memory:" }), pricing: pricer, logger: quiet, enabled: false });

  it("names exactly the one broken field of an otherwise valid input", async () => {
    const cases = fc.record({
      bad: fc.constantFrom(...BAD).chain((b) => fc.record({ b: fc.constant(b), value: fc.constantFrom(...b.values) })),
      valid: fc.record(
        {
          userId: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
          threadId: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
          cacheReadTokens: fc.nat(40),
          reasoningTokens: fc.nat(10),
          latencyMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
          tags: fc.array(fc.string(), { maxLength: 3 }),
          timestamp: fc.date({ min: new Date("2001-01-01"), max: new Date("2099-01-01"), noInvalidDate: true }),
        },
        { requiredKeys: [] },
      ),
    });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(cases, async ({ bad: { b, value }, valid }) => {
        n++;
        const key = b.field.startsWith("dimensions.") ? "dimensions" : b.field;
        const input: Record<string, unknown> = { ...VALID, ...valid, ...b.extra, [key]: value };
        // The inclusive-count checks compare against inputTokens and outputTokens: keep those valid.
        if (key === "cacheReadTokens") delete input.cacheWriteTokens;
        const error = await monitor.trackUsage(input as never).then(
          (r) => new Error(`accepted ${b.field}=${String(value)}: ${JSON.stringify(r).slice(0, 200)}`),
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).field).toBe(b.named?.(value) ?? b.field);
      }),
      { seed: SEED, numRuns: Math.max(1000, Math.round(RUNS / 5)) },
    );
    expect(n).toBeGreaterThanOrEqual(1000);
  });

  it(`random input: a sound record or a ValidationError naming an input field (${RUNS} cases)`, async () => {
    const fields = ["id", "userId", "threadId", "agentName", "provider", "model", "deployment", "inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens", "reasoningTokens", "operation", "timestamp", "error", "errorMessage", "estimated", "cached", "latencyMs", "runId", "parentRunId", "tags", "dimensions", "metadata"] as const;
    // Each field is mostly a plausible value and sometimes junk, so both outcomes are common.
    const plausible: Record<string, fc.Arbitrary<unknown>> = {
      id: fc.uuid(),
      userId: fc.stringMatching(/^[a-z0-9-]{1,12}$/),
      threadId: fc.stringMatching(/^[a-z0-9-]{1,12}$/),
      agentName: fc.string({ minLength: 1, maxLength: 12 }),
      provider: fc.constantFrom("openai", "anthropic", "azure", "nobody"),
      model: fc.constantFrom("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "unknown-model"),
      deployment: fc.string({ maxLength: 12 }),
      inputTokens: fc.integer({ min: 50, max: 1_000_000 }),
      outputTokens: fc.integer({ min: 20, max: 100_000 }),
      cacheReadTokens: fc.nat(20),
      cacheWriteTokens: fc.nat(20),
      reasoningTokens: fc.nat(20),
      operation: fc.constantFrom("chat", "llm", "embedding"),
      timestamp: fc.date({ min: new Date("2001-01-01"), max: new Date("2999-01-01"), noInvalidDate: true }),
      error: fc.boolean(),
      errorMessage: fc.string({ maxLength: 5000 }),
      estimated: fc.boolean(),
      cached: fc.boolean(),
      latencyMs: fc.double({ min: 0, max: 1e7, noNaN: true }),
      runId: fc.uuid(),
      parentRunId: fc.uuid(),
      tags: fc.array(fc.oneof(fc.string(), junk), { maxLength: 60 }),
      dimensions: fc.dictionary(fc.stringMatching(/^[a-z_]{1,10}$/), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null))),
      metadata: startMetadata,
    };
    const fieldValue = (f: string) =>
      fc.oneof({ weight: 12, arbitrary: plausible[f] }, { weight: 1, arbitrary: f.endsWith("Tokens") ? nastyNumber : junk });
    const input = fc.oneof(
      { weight: 1, arbitrary: junk },
      { weight: 12, arbitrary: fc.record(Object.fromEntries(fields.map((f) => [f, fieldValue(f)])), { requiredKeys: [...fields] }) },
      { weight: 4, arbitrary: fc.record(Object.fromEntries(fields.map((f) => [f, fieldValue(f)])), { requiredKeys: [] }) },
    );
    let accepted = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(input, async (value) => {
        const outcome = await monitor.trackUsage(value as never).then(
          (r) => ({ r }),
          (e: unknown) => ({ e }),
        );
        if ("r" in outcome) {
          accepted++;
          expect(recordProblems(outcome.r)).toEqual([]);
        } else {
          rejected++;
          expect(outcome.e).toBeInstanceOf(ValidationError);
          const root = (outcome.e as ValidationError).field.split(/[.[]/)[0];
          expect(["usage", ...fields]).toContain(root);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    console.log(`[fuzz] trackUsage: ${accepted} accepted (all sound), ${rejected} rejected with a named field`);
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });
});
