/**
 * Real LangChain chat clients wired to the fake provider servers (no network beyond 127.0.0.1,
 * no retries, fake credentials). Shared by the provider matrix, the fixture capture and the
 * handler end-to-end tests.
 */
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { ChatAnthropic } from "@langchain/anthropic";
import { ChatBedrockConverse } from "@langchain/aws";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { ChatGoogleGenerativeAI } from "@langchain/google-genai";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { AzureChatOpenAI, BaseChatOpenAI, ChatOpenAI } from "@langchain/openai";
import { Tiktoken } from "js-tiktoken/lite";
import o200kBase from "js-tiktoken/ranks/o200k_base";

export type ClientKind = "openai-chat" | "openai-responses" | "azure" | "anthropic" | "gemini" | "bedrock-converse";

export interface ClientOptions {
  streaming?: boolean;
  /** OpenAI chat only: number of choices. */
  n?: number;
}

export const AZURE_DEPLOYMENT = "prod-gpt4o-eu";
export const BEDROCK_MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0";

let encoder: Tiktoken | undefined;
let installed = false;

/**
 * `ChatOpenAI` (Chat Completions, also Azure) invoked with `streaming: true` computes a tiktoken
 * ESTIMATE in `_generate` even when the stream carries real usage, and the encoder is fetched from
 * tiktoken.pages.dev (offline: minutes of retries). `.stream()` never takes that path, nor does a
 * non-streaming invoke. Tests supply the encoder from the bundled `js-tiktoken` ranks instead.
 * It has to happen on the prototype: `bindTools`/`withConfig` build fresh model instances, and
 * `_encoding` is an instance field. Idempotent; called when this module loads.
 */
export function installOfflineTiktoken(): void {
  if (installed) return;
  installed = true;
  const proto = BaseChatOpenAI.prototype as any;
  const original = proto.getNumTokens;
  proto.getNumTokens = function getNumTokensOffline(this: any, content: unknown) {
    encoder ??= new Tiktoken(o200kBase);
    this._encoding ??= encoder;
    return original.call(this, content);
  };
}

installOfflineTiktoken();

export function makeClient(kind: ClientKind, url: string, opts: ClientOptions = {}): BaseChatModel {
  // Pass `streaming` only when true: `ChatOpenAI({ streaming: false })` sets `disableStreaming`,
  // which silently turns `.stream()` into a plain invoke.
  const streaming = opts.streaming ? { streaming: true } : {};
  switch (kind) {
    case "openai-chat":
    case "openai-responses": {
      const model = new ChatOpenAI({
        model: "gpt-4o-mini",
        apiKey: "sk-fake",
        configuration: { baseURL: url },
        maxRetries: 0,
        ...streaming,
        ...(opts.n ? { n: opts.n } : {}),
        ...(kind === "openai-responses" ? { useResponsesApi: true } : {}),
      });
      return model;
    }
    case "azure": {
      // Only a deployment: the model field keeps the class default, a trap for pricing.
      const model = new AzureChatOpenAI({
        azureOpenAIApiKey: "fake-key",
        azureOpenAIApiDeploymentName: AZURE_DEPLOYMENT,
        azureOpenAIApiVersion: "2024-10-21",
        azureOpenAIBasePath: `${url}/openai/deployments`,
        maxRetries: 0,
        ...streaming,
      });
      return model;
    }
    case "anthropic":
      return new ChatAnthropic({
        model: "claude-sonnet-4-5",
        apiKey: "sk-ant-fake",
        anthropicApiUrl: url,
        maxRetries: 0,
        ...streaming,
      });
    case "gemini":
      return new ChatGoogleGenerativeAI({
        model: "gemini-2.5-flash",
        apiKey: "fake-key",
        baseUrl: url,
        maxRetries: 0,
        ...streaming,
      });
    case "bedrock-converse": {
      const region = "us-east-1";
      const credentials = { accessKeyId: "AKIDFAKE", secretAccessKey: "fake-secret" };
      return new ChatBedrockConverse({
        model: BEDROCK_MODEL_ID,
        region,
        credentials,
        // The default Bedrock handler speaks HTTP/2; the fake server is plain HTTP/1.1.
        client: new BedrockRuntimeClient({
          region,
          credentials,
          endpoint: url,
          maxAttempts: 1,
          requestHandler: new NodeHttpHandler(),
        }),
        maxRetries: 0,
        ...streaming,
      });
    }
  }
}
