/**
 * Fake Azure OpenAI server: `POST /openai/deployments/{deployment}/chat/completions?api-version=...`
 * (and `/responses`), answered in the OpenAI formats of `openai-chat.ts` / `openai-responses.ts`.
 *
 * Like Azure, it insists on an `api-key` header and an `api-version` query parameter (400/401
 * otherwise), and reports the underlying model (default `gpt-4o-2024-11-20`), not the deployment
 * name, in the response. `deployments` lists the deployment names seen, so a test can prove the
 * client addressed the deployment it was configured with.
 *
 * Point `AzureChatOpenAI` at it with `azureOpenAIBasePath: server.url + "/openai/deployments"`,
 * `azureOpenAIApiDeploymentName`, `azureOpenAIApiVersion` and any `azureOpenAIApiKey`.
 */
import { createOpenAIChatRoute, type FakeOpenAIChatOptions } from "./openai-chat.js";
import { createOpenAIResponsesRoute } from "./openai-responses.js";
import { type FakeServer, sendJson, startServer } from "./shared.js";

export interface FakeAzureServer extends FakeServer {
  /** Deployment names addressed by the requests, in order. */
  readonly deployments: string[];
}

export async function startFakeAzureServer(options: FakeOpenAIChatOptions = {}): Promise<FakeAzureServer> {
  const opts = { ...options, model: options.model ?? "gpt-4o-2024-11-20" };
  const chat = createOpenAIChatRoute(opts);
  const responses = createOpenAIResponsesRoute({ model: opts.model, usage: opts.usage, reply: opts.reply });
  const deployments: string[] = [];
  const server = await startServer((req, res) => {
    const match = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|responses)$/.exec(req.path);
    if (req.method !== "POST" || !match) {
      return sendJson(res, 404, { error: { code: "404", message: `no route for ${req.method} ${req.path}` } });
    }
    if (!req.headers["api-key"]) return sendJson(res, 401, { error: { code: "401", message: "missing api-key" } });
    if (!req.query["api-version"]) return sendJson(res, 400, { error: { code: "400", message: "missing api-version" } });
    deployments.push(decodeURIComponent(match[1]));
    return match[2] === "responses" ? responses(req, res) : chat(req, res);
  });
  return Object.assign(server, { deployments });
}
