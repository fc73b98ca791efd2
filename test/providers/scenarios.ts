/**
 * The provider matrix: every real client x (non-streaming invoke, `streaming: true` invoke,
 * `.stream()`), each against its fake server with known usage including cache and reasoning.
 * `runScenario` makes one real call with a capturing handler and returns what it saw.
 */
import { HumanMessage } from "@langchain/core/messages";
import { CaptureHandler, type CapturedEnd, type CapturedStart, type CapturedToken } from "./capture-handler.js";
import { type ClientKind, makeClient } from "./clients.js";
import {
  type FakeServer,
  type FakeUsage,
  startFakeAnthropicServer,
  startFakeAzureServer,
  startFakeBedrockConverseServer,
  startFakeGeminiServer,
  startFakeOpenAIChatServer,
  startFakeOpenAIResponsesServer,
} from "./fake-servers/index.js";

export type Mode = "invoke" | "streaming-invoke" | "stream";

export interface Scenario {
  name: string;
  client: ClientKind;
  mode: Mode;
  n?: number;
  usage: FakeUsage;
}

/** Usage each fake server reports: distinct numbers per provider so a mix-up cannot pass. */
export const TRUTH: Record<ClientKind, FakeUsage> = {
  // OpenAI: cached tokens are part of prompt tokens, reasoning part of completion tokens.
  // OpenAI reports cache writes too (`cache_write_tokens`, read by @langchain/openai 1.6+).
  "openai-chat": { input: 1200, output: 300, cacheRead: 1024, cacheWrite: 96, reasoning: 128 },
  "openai-responses": { input: 2100, output: 450, cacheRead: 1536, cacheWrite: 320, reasoning: 256 },
  azure: { input: 900, output: 150, cacheRead: 512, cacheWrite: 0, reasoning: 0 },
  // Anthropic reports no separate thinking count.
  anthropic: { input: 3000, output: 200, cacheRead: 2048, cacheWrite: 700, reasoning: 0 },
  gemini: { input: 1500, output: 420, cacheRead: 1024, cacheWrite: 0, reasoning: 300 },
  "bedrock-converse": { input: 2500, output: 180, cacheRead: 1800, cacheWrite: 400, reasoning: 0 },
};

const MODES: Mode[] = ["invoke", "streaming-invoke", "stream"];

export const SCENARIOS: Scenario[] = [
  ...(Object.keys(TRUTH) as ClientKind[]).flatMap((client) =>
    MODES.map((mode) => ({ name: `${client}.${mode}`, client, mode, usage: TRUTH[client] })),
  ),
  { name: "openai-chat.invoke.n2", client: "openai-chat", mode: "invoke", n: 2, usage: TRUTH["openai-chat"] },
  { name: "openai-chat.streaming-invoke.n2", client: "openai-chat", mode: "streaming-invoke", n: 2, usage: TRUTH["openai-chat"] },
];

export async function startServerFor(client: ClientKind, usage: FakeUsage): Promise<FakeServer> {
  switch (client) {
    case "openai-chat":
      return startFakeOpenAIChatServer({ usage });
    case "openai-responses":
      return startFakeOpenAIResponsesServer({ usage });
    case "azure":
      return startFakeAzureServer({ usage });
    case "anthropic":
      return startFakeAnthropicServer({ usage });
    case "gemini":
      return startFakeGeminiServer({ usage });
    case "bedrock-converse":
      return startFakeBedrockConverseServer({ usage });
  }
}

export interface ScenarioResult {
  truth: FakeUsage;
  requests: number;
  start?: CapturedStart;
  end?: CapturedEnd;
  tokens: CapturedToken[];
  handler: CaptureHandler;
  text: string;
}

export async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  const server = await startServerFor(scenario.client, scenario.usage);
  try {
    const model = makeClient(scenario.client, server.url, { streaming: scenario.mode === "streaming-invoke", n: scenario.n });
    const handler = new CaptureHandler();
    const input = [new HumanMessage("Say hello.")];
    const config = { callbacks: [handler], metadata: { thread_id: "t-1" }, runName: `matrix-${scenario.name}` };
    let text = "";
    if (scenario.mode === "stream") {
      for await (const chunk of await model.stream(input, config)) text += chunk.text;
    } else {
      text = (await model.invoke(input, config)).text;
    }
    const end = handler.ends[0];
    return {
      truth: scenario.usage,
      requests: server.requests,
      start: end ? handler.startOf(end.runId) : handler.starts[0],
      end,
      tokens: handler.tokens.filter((t) => !end || t.runId === end.runId),
      handler,
      text,
    };
  } finally {
    await server.close();
  }
}
