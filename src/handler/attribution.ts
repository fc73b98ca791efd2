/**
 * Who a model call belongs to: user, thread and agent, read from the run's
 * metadata (only start callbacks receive it) and from the chain runs above it.
 * Pure functions over plain data, so the rules are tested without LangChain.
 */
export interface ChainRun {
  runName: string | undefined;
  parentRunId: string | undefined;
  /** `lc_agent_name`, or the name a compiled graph was given, when this chain is an agent. */
  agentName: string | undefined;
  /** When it started (for dropping runs whose end never came). */
  startedAtEpochMs?: number;
}

export interface AttributionDefaults {
  userId?: string;
  threadId?: string;
  agentName?: string;
}

/** Names LangChain and LangGraph give runs by default: they name no agent. */
const GENERIC_RUN_NAMES = new Set([
  "LangGraph",
  "RunnableSequence",
  "RunnableLambda",
  "RunnableMap",
  "RunnableParallel",
  "RunnableAssign",
  "RunnablePassthrough",
  "RunnableBinding",
  "RunnableWithFallbacks",
  "RunnableCallable",
  "ChannelWrite",
  "ChannelRead",
  "Branch",
  "__start__",
  "__end__",
  "agent",
  "tools",
  "model",
  "model_request",
  "call_model",
  "should_continue",
]);

/** The agent name a chain run carries, if it is an agent's run. */
export function chainAgentName(
  serialized: { id?: unknown } | undefined,
  runName: string | undefined,
  metadata: Record<string, unknown> | undefined,
  isRoot: boolean,
): string | undefined {
  const explicit = stringField(metadata, "lc_agent_name");
  if (explicit) return explicit;
  if (!runName || GENERIC_RUN_NAMES.has(runName)) return undefined;
  // createReactAgent({ name }) names the compiled graph; its run carries that name. A graph
  // used as a node of a larger graph runs under its node name, which is the agent's name.
  const id = Array.isArray(serialized?.id) ? (serialized!.id as unknown[]).join("/") : "";
  if (isRoot || /Compiled|Pregel|StateGraph/.test(id)) return runName;
  return undefined;
}

export function resolveUserId(metadata: Record<string, unknown> | undefined, defaults: AttributionDefaults): string | undefined {
  return stringField(metadata, "user_id") ?? stringField(metadata, "userId") ?? defaults.userId;
}

export function resolveThreadId(metadata: Record<string, unknown> | undefined, defaults: AttributionDefaults): string | undefined {
  return (
    stringField(metadata, "thread_id") ??
    stringField(metadata, "conversation_id") ??
    stringField(metadata, "session_id") ??
    stringField(metadata, "threadId") ??
    defaults.threadId
  );
}

/** `lc_agent_name` first, then the nearest agent chain above the call, then the default. */
export function resolveAgentName(
  metadata: Record<string, unknown> | undefined,
  parentRunId: string | undefined,
  chains: ReadonlyMap<string, ChainRun>,
  defaults: AttributionDefaults,
): string | undefined {
  const explicit = stringField(metadata, "lc_agent_name");
  if (explicit) return explicit;
  let id = parentRunId;
  for (let depth = 0; id !== undefined && depth < 64; depth++) {
    const chain = chains.get(id);
    if (!chain) break;
    if (chain.agentName) return chain.agentName;
    id = chain.parentRunId;
  }
  return defaults.agentName;
}

const WELL_KNOWN_DIMENSIONS = ["tenant", "tenant_id", "department", "feature"];

/** Charge-back dimensions from `metadata.dimensions` and well-known keys such as `feature`. */
export function resolveDimensions(
  metadata: Record<string, unknown> | undefined,
  defaults: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = { ...defaults };
  const fromMetadata = metadata?.dimensions;
  if (fromMetadata && typeof fromMetadata === "object" && !Array.isArray(fromMetadata)) {
    // Names that could not be stored are left out rather than losing the call.
    for (const [k, v] of Object.entries(fromMetadata)) if (typeof v === "string" && DIMENSION_NAME.test(k)) out[k] = v;
  }
  for (const key of WELL_KNOWN_DIMENSIONS) {
    const v = stringField(metadata, key);
    if (v !== undefined && out[key] === undefined) out[key] = v;
  }
  return out;
}

/** Longer attribution values are cut: a call is never lost over an odd id. */
export const MAX_ATTRIBUTION_LENGTH = 1024;
const DIMENSION_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function stringField(o: Record<string, unknown> | undefined, key: string): string | undefined {
  const v = o?.[key];
  if (typeof v === "string" && v !== "") return clip(v);
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}

export function clip(value: string): string;
export function clip(value: string | undefined): string | undefined;
export function clip(value: string | undefined): string | undefined {
  return value !== undefined && value.length > MAX_ATTRIBUTION_LENGTH ? value.slice(0, MAX_ATTRIBUTION_LENGTH) : value;
}

/** Tags as LangChain should pass them: strings only. */
export function cleanTags(tags: unknown): string[] {
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === "string") : [];
}
