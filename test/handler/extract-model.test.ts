import { describe, expect, it } from "vitest";
import { extractModel, type ModelStart } from "../../src/handler/extract-model.js";
import { collapseRepeats } from "../../src/handler/extract-safe.js";
import { FIXTURE_NAMES, type ProviderFixture, loadFixture } from "../fixtures/providers.js";

const EXPECTED: Record<string, { model: string; provider: string; deployment: string | null }> = {
  "openai-chat": { model: "gpt-4o-mini-2024-07-18", provider: "openai", deployment: null },
  "openai-responses": { model: "gpt-4o-mini-2024-07-18", provider: "openai", deployment: null },
  azure: { model: "gpt-4o-2024-11-20", provider: "azure", deployment: "prod-gpt4o-eu" },
  anthropic: { model: "claude-sonnet-4-5-20250929", provider: "anthropic", deployment: null },
  gemini: { model: "gemini-2.5-flash", provider: "google_genai", deployment: null },
  "bedrock-converse": { model: "anthropic.claude-3-5-sonnet-20240620-v1:0", provider: "amazon_bedrock", deployment: null },
};

function startOf(f: ProviderFixture): ModelStart {
  return {
    metadata: f.start.metadata,
    invocationParams: f.start.extraParams?.invocation_params,
    serialized: f.start.serialized,
    runName: f.start.runName,
  };
}

describe("extractModel on captured provider fixtures", () => {
  for (const name of FIXTURE_NAMES) {
    it(`${name}: the model the provider ran, the provider, the deployment`, () => {
      const f = loadFixture(name);
      expect(extractModel(f.end.output, startOf(f))).toEqual(EXPECTED[f.client]);
    });
  }

  it("prefers the response's dated model over the declared alias", () => {
    const f = loadFixture("openai-chat.invoke");
    expect(f.start.metadata.ls_model_name).toBe("gpt-4o-mini");
    expect(extractModel(f.end.output, startOf(f)).model).toBe("gpt-4o-mini-2024-07-18");
  });

  it("Responses API streaming: the model concatenated by chunk merging is collapsed", () => {
    const f = loadFixture("openai-responses.stream");
    const rm = f.end.output.generations[0][0].message.response_metadata;
    expect(rm.model).toBe("gpt-4o-mini-2024-07-18".repeat(2));
    delete rm.model_name;
    expect(extractModel(f.end.output, startOf(f)).model).toBe("gpt-4o-mini-2024-07-18");
  });

  it("Anthropic streaming: the model comes from additional_kwargs", () => {
    const f = loadFixture("anthropic.stream");
    expect(f.end.output.generations[0][0].message.response_metadata.model).toBeUndefined();
    expect(extractModel(f.end.output, {}).model).toBe("claude-sonnet-4-5-20250929");
  });

  it("falls back to ls_model_name, then invocation params, then serialized kwargs", () => {
    expect(extractModel(undefined, { metadata: { ls_model_name: "m-meta" }, invocationParams: { model: "m-inv" } }).model).toBe("m-meta");
    expect(extractModel({ generations: [] }, { invocationParams: { model_id: "m-inv" } }).model).toBe("m-inv");
    expect(extractModel(null, { serialized: { lc: 1, type: "constructor", id: ["x"], kwargs: { model_name: "m-ser" } } }).model).toBe("m-ser");
    expect(extractModel(null, {})).toEqual({ model: null, deployment: null, provider: null });
  });

  it("Azure without a response model: the deployment, not the class default", () => {
    const f = loadFixture("azure.invoke");
    expect(f.start.metadata.ls_model_name).toBe("gpt-3.5-turbo");
    expect(extractModel(undefined, startOf(f))).toEqual({ model: "prod-gpt4o-eu", deployment: "prod-gpt4o-eu", provider: "azure" });
    // An explicitly configured model wins over the deployment.
    const explicit = startOf(f);
    explicit.serialized = { ...f.start.serialized, kwargs: { ...f.start.serialized.kwargs, model: "gpt-4o" } };
    expect(extractModel(undefined, explicit).model).toBe("gpt-4o");
  });

  it("Azure deployment from the base path when no deployment kwarg is serialized", () => {
    const start: ModelStart = {
      metadata: { ls_provider: "azure" },
      serialized: { lc: 1, type: "constructor", id: ["x"], kwargs: { openai_api_base: "https://acme.openai.azure.com/openai/deployments/eu%20gpt4o" } },
    };
    expect(extractModel(undefined, start).deployment).toBe("eu gpt4o");
  });

  it("never throws on hostile input", () => {
    const throwing = new Proxy({}, { get() { throw new Error("boom"); } });
    const cyclic: any = {};
    cyclic.generations = [[{ message: cyclic }]];
    for (const output of [throwing, cyclic, 42, "x", { generations: [[{ message: { response_metadata: { model_name: 7 } } }]] }]) {
      expect(() => extractModel(output, throwing as ModelStart)).not.toThrow();
      expect(extractModel(output, throwing as ModelStart)).toEqual({ model: null, deployment: null, provider: null });
    }
    expect(extractModel(undefined, { metadata: { ls_model_name: "  " }, invocationParams: { model: Array.from({ length: 300 }, (_, i) => i).join("-") } }).model).toBeNull();
  });
});

describe("collapseRepeats", () => {
  it("reduces exact repetitions only", () => {
    expect(collapseRepeats("gpt-4ogpt-4ogpt-4o")).toBe("gpt-4o");
    expect(collapseRepeats("gpt-4o")).toBe("gpt-4o");
    expect(collapseRepeats("o1")).toBe("o1");
    expect(collapseRepeats("abcab")).toBe("abcab");
  });
});
