/**
 * Model, deployment and provider of one chat model call.
 *
 * The model is what the provider says it ran (`response_metadata.model_name` / `model`, Anthropic's
 * streamed `additional_kwargs.model`, `llmOutput.model_name` / `model`), because that is what is
 * billed (`gpt-4o-mini` -> `gpt-4o-mini-2024-07-18`). Without one it falls back to what the client
 * declared: `metadata.ls_model_name`, then the invocation params, then the serialized constructor
 * arguments.
 *
 * Azure is special: a client configured with only a deployment still declares the class default
 * model (`gpt-3.5-turbo`) in `ls_model_name` and the invocation params. The deployment name is
 * therefore kept apart (from the serialized kwargs or the base path) so pricing can map it, and it
 * replaces that declared model when the response names none.
 *
 * Never throws.
 */
import type { Serialized } from "@langchain/core/load/serializable";
import { asDict, asList, asName, read, readPath } from "./extract-safe.js";

export interface ModelStart {
  /** `handleChatModelStart`'s metadata (carries `ls_provider`, `ls_model_name`). */
  metadata?: Record<string, unknown>;
  /** `extraParams.invocation_params` of `handleChatModelStart`. */
  invocationParams?: Record<string, unknown>;
  /** The serialized model (`handleChatModelStart`'s first argument). */
  serialized?: Serialized;
  runName?: string;
}

export interface ExtractedModel {
  model: string | null;
  /** Azure deployment name (or another provider's alias), kept apart from the model. */
  deployment: string | null;
  provider: string | null;
}

const RESPONSE_MODEL_PATHS: Array<[string, string, string?]> = [
  ["message", "response_metadata", "model_name"],
  ["message", "response_metadata", "model"],
  ["message", "response_metadata", "modelVersion"],
  ["message", "additional_kwargs", "model"],
  ["generationInfo", "model_name"],
];

const DECLARED_MODEL_KEYS = ["model", "modelName", "model_name", "model_id", "modelId"];
const DEPLOYMENT_KEYS = ["azureOpenAIApiDeploymentName", "deploymentName", "deployment_name", "azure_openai_api_deployment_name", "deployment"];
const BASE_PATH_KEYS = ["openai_api_base", "azure_openai_base_path", "azureOpenAIBasePath"];

export function extractModel(output: unknown, start: ModelStart = {}): ExtractedModel {
  try {
    return extract(output, start);
  } catch {
    return { model: null, deployment: null, provider: null };
  }
}

/*
 * Every rule is "the first usable name, in this order"; the candidates are read one at a
 * time and the search stops at the first name, rather than building arrays of every
 * candidate first (this runs once per model call).
 */
function extract(output: unknown, start: ModelStart): ExtractedModel {
  const kwargs = asDict(read(start?.serialized, "kwargs"));
  const generations = generationList(output);
  const invocationParams = start?.invocationParams;

  const responseModel =
    responseModelName(generations) ?? asName(readPath(output, "llmOutput", "model_name")) ?? asName(readPath(output, "llmOutput", "model"));
  const deployment = firstKey(kwargs, DEPLOYMENT_KEYS) ?? firstKey(invocationParams, DEPLOYMENT_KEYS) ?? basePathDeployment(kwargs);
  const provider = asName(read(start?.metadata, "ls_provider")) ?? generationProvider(generations);
  // The declared names matter only when the response names no model (read only then).
  const model = responseModel ?? declaredModel(start, kwargs, invocationParams, deployment, provider);
  return { model: model ?? null, deployment: deployment ?? null, provider: provider ?? null };
}

function declaredModel(
  start: ModelStart,
  kwargs: Record<string, unknown> | undefined,
  invocationParams: Record<string, unknown> | undefined,
  deployment: string | undefined,
  provider: string | undefined,
): string | undefined {
  const explicitModel = firstKey(kwargs, DECLARED_MODEL_KEYS);
  // A deployment-only Azure client declares the class default model: the deployment says more.
  if (deployment && provider === "azure") return explicitModel ?? deployment;
  return asName(read(start?.metadata, "ls_model_name")) ?? firstKey(invocationParams, DECLARED_MODEL_KEYS) ?? explicitModel;
}

/** `generations` flattened one level (a list per prompt, or bare generations). */
function generationList(output: unknown): unknown[] {
  const prompts = asList(read(output, "generations"));
  if (prompts.length === 1 && Array.isArray(prompts[0])) return asList(prompts[0]);
  const out: unknown[] = [];
  for (const p of prompts) {
    if (Array.isArray(p)) for (const g of asList(p)) out.push(g);
    else out.push(p);
  }
  return out;
}

function responseModelName(generations: unknown[]): string | undefined {
  for (const g of generations) {
    for (const [a, b, c] of RESPONSE_MODEL_PATHS) {
      const name = asName(readPath(g, a, b, c));
      if (name) return name;
    }
  }
  return undefined;
}

function generationProvider(generations: unknown[]): string | undefined {
  for (const g of generations) {
    const name = asName(readPath(g, "message", "response_metadata", "model_provider"));
    if (name) return name;
  }
  return undefined;
}

function firstKey(obj: unknown, keys: string[]): string | undefined {
  if (obj === undefined || obj === null) return undefined;
  for (const k of keys) {
    const name = asName(read(obj, k));
    if (name) return name;
  }
  return undefined;
}

function basePathDeployment(kwargs: unknown): string | undefined {
  if (kwargs === undefined) return undefined;
  for (const k of BASE_PATH_KEYS) {
    const name = asName(deploymentFromBasePath(read(kwargs, k)));
    if (name) return name;
  }
  return undefined;
}

/** `https://x.openai.azure.com/openai/deployments/my-dep` -> `my-dep`. */
function deploymentFromBasePath(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const match = /\/openai\/deployments\/([^/?#]+)/.exec(value);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}
