/**
 * The one-line integration: `attachTokenTracking(config, { agentName })` returns a
 * new RunnableConfig with a tracking handler added to its callbacks and the
 * attribution copied into metadata, which is what callbacks can see (plain
 * LangChain does not hand `configurable` to callbacks; LangGraph passes only
 * `thread_id` and a few checkpoint keys).
 */
import { CallbackManager } from "@langchain/core/callbacks/manager";
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { RunnableConfig } from "@langchain/core/runnables";
import { getTokenMonitor, type HandlerOptions, type TokenMonitoringService } from "../monitor/token-monitor.js";
import type { TokenTrackingCallbackHandler } from "./token-tracking-handler.js";
import type { BudgetGuard } from "../budget/budget-guard.js";

export interface AttachOptions extends HandlerOptions {
  /** The service that stores the records. @default getTokenMonitor() */
  monitor?: TokenMonitoringService;
  /**
   * Enforce (or warn about) budgets before each model call: a guard, or `true` for the
   * monitor's own guard. @default the monitor's guard when `BUDGET_ENFORCEMENT=block`
   */
  budget?: BudgetGuard | boolean;
  /** Extra handlers added next to the tracker. */
  extraHandlers?: BaseCallbackHandler[];
}

/** Creates a handler bound to a service (default: the process-wide one). */
export function createTokenTrackingCallback(options: AttachOptions = {}): TokenTrackingCallbackHandler {
  const { monitor = getTokenMonitor(), extraHandlers: _handlers, budget: _budget, ...handlerOptions } = options;
  return monitor.createCallbackHandler(handlerOptions);
}

export function attachTokenTracking<C extends RunnableConfig>(config: C = {} as C, options: AttachOptions = {}): C {
  const configurable = (config.configurable ?? {}) as Record<string, unknown>;
  const metadata: Record<string, unknown> = { ...config.metadata };
  for (const key of ["user_id", "thread_id", "conversation_id", "session_id"]) {
    if (metadata[key] === undefined && isId(configurable[key])) metadata[key] = configurable[key];
  }
  // The handlers are shared (see sharedHandler): the options' attribution reaches them
  // through metadata alone, wherever metadata holds no usable value.
  if (!isId(metadata.user_id) && options.userId) metadata.user_id = options.userId;
  if (!isId(metadata.thread_id) && options.threadId) metadata.thread_id = options.threadId;
  if (options.dimensions) metadata.dimensions = { ...(metadata.dimensions as object | undefined), ...options.dimensions };

  const monitor = options.monitor ?? getTokenMonitor();
  const guard =
    typeof options.budget === "object"
      ? options.budget
      : options.budget === true || (options.budget === undefined && monitor.budgetEnforced)
        ? monitor.budget
        : undefined;
  const handlers: BaseCallbackHandler[] = [
    // The guard goes first: a refused call must not reach the provider.
    ...(guard ? [sharedHandler(guard, options.agentName, (agent) => guard.createHandler(agent))] : []),
    sharedHandler(monitor, options.agentName, (agent) => monitor.createCallbackHandler(agent)),
    ...(options.extraHandlers ?? []),
  ];
  return { ...config, metadata, callbacks: addHandlers(config.callbacks, handlers) };
}

/**
 * The handler an owner (a monitor, a budget guard) makes for `agentName`, made once and
 * shared by every config `attachTokenTracking` builds. Both handlers keep a call's state
 * under its run id only, and each request's user, thread and dimensions travel in its
 * config's metadata, so one instance serves every request; the guard's gets the same agent
 * name as the tracker's, so `agent:<name>` limits count the calls recorded under it. A
 * handler made per request cost about 2.7 µs on the agent's path (LangChain's handler
 * constructor and its fields, then garbage).
 */
const sharedHandlers = new WeakMap<object, Map<string, BaseCallbackHandler>>();
/** Agent names are few; names made per request would only fill the map. */
const MAX_SHARED_PER_OWNER = 1000;

function sharedHandler<H extends BaseCallbackHandler>(owner: object, agentName: string | undefined, make: (agent: { agentName?: string }) => H): H {
  let byAgent = sharedHandlers.get(owner);
  if (!byAgent) sharedHandlers.set(owner, (byAgent = new Map()));
  const key = agentName ?? "";
  let handler = byAgent.get(key) as H | undefined;
  if (!handler) {
    handler = make(agentName === undefined ? {} : { agentName });
    if (byAgent.size < MAX_SHARED_PER_OWNER) byAgent.set(key, handler);
  }
  return handler;
}

function addHandlers(existing: RunnableConfig["callbacks"], handlers: BaseCallbackHandler[]): RunnableConfig["callbacks"] {
  if (existing === undefined || existing === null) return handlers;
  if (Array.isArray(existing)) return [...existing, ...handlers];
  // Duck-typed: a manager from another copy of @langchain/core must not lose its handlers.
  if (existing instanceof CallbackManager || typeof (existing as CallbackManager).copy === "function") {
    const copy = (existing as CallbackManager).copy();
    for (const h of handlers) copy.addHandler(h, true);
    return copy;
  }
  return handlers;
}

function isId(value: unknown): value is string | number {
  return (typeof value === "string" && value !== "") || (typeof value === "number" && Number.isFinite(value));
}
