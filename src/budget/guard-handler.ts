/**
 * The enforcing callback handler. Unlike the tracking handler it is meant to break
 * the chain: it is built with `raiseError: true` (which also makes LangChain await
 * it), so a `BudgetExceededError` thrown from a start callback reaches the caller
 * before any request is sent to the provider. Its end and error callbacks only
 * settle reservations and never throw.
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { LLMResult } from "@langchain/core/outputs";
import { resolveAgentName, resolveDimensions, resolveUserId, type AttributionDefaults } from "../handler/attribution.js";
import { extractModel, type ModelStart } from "../handler/extract-model.js";
import { extractUsage } from "../handler/extract-usage.js";
import { BudgetExceededError } from "../errors.js";
import { ANONYMOUS_USER } from "../record/types.js";
import type { BudgetGuard } from "./budget-guard.js";
import { declaredMaxOutputTokens, estimatePromptTokens, type UsageAmount } from "./reservations.js";

export type BudgetGuardHandlerOptions = Pick<AttributionDefaults, "userId" | "agentName"> & {
  /** Charge-back dimensions of every call (as the tracking handler's `dimensions`). */
  dimensions?: Record<string, string>;
};

const NO_CHAINS = new Map();

export class BudgetGuardHandler extends BaseCallbackHandler {
  name = "budget_guard_handler";
  /** What each started run declared, to price its real usage at the end. */
  private readonly starts = new Map<string, ModelStart>();

  constructor(
    private readonly guard: BudgetGuard,
    private readonly defaults: BudgetGuardHandlerOptions = {},
  ) {
    // raiseError must reach the base constructor: it also sets awaitHandlers, and LangChain
    // only propagates a handler's error (and waits for it) when both are set on the instance.
    super({ raiseError: true });
  }

  override async handleChatModelStart(
    llm: Serialized,
    messages: unknown[][],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
  ): Promise<void> {
    await this.start(llm, messages, runId, parentRunId, extraParams, metadata, runName);
  }

  override async handleLLMStart(
    llm: Serialized,
    prompts: string[],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
  ): Promise<void> {
    await this.start(llm, prompts, runId, parentRunId, extraParams, metadata, runName);
  }

  override handleLLMEnd(output: LLMResult, runId: string, _parentRunId?: string, _tags?: string[], extraParams?: Record<string, unknown>): void {
    const start = this.starts.get(runId);
    this.starts.delete(runId);
    try {
      if (!start || extraParams?.cached === true) {
        this.guard.settle(runId, null);
        return;
      }
      const { model, deployment, provider } = extractModel(output, start);
      const usage = extractUsage(output, undefined, provider);
      const cost = this.guard.pricer.price(
        {
          inputTokens: usage.inputTokens,
          outputTokens: usage.outputTokens,
          cacheReadTokens: usage.cacheReadTokens,
          cacheWriteTokens: usage.cacheWriteTokens,
          reasoningTokens: usage.reasoningTokens,
        },
        { model: model ?? "unknown", provider: provider ?? undefined, deployment },
      );
      this.guard.settle(runId, { tokens: usage.totalTokens || usage.inputTokens + usage.outputTokens, costNanos: cost.totalCostNanos });
    } catch {
      // Settling is bookkeeping: the reservation is released either way.
      this.guard.release(runId);
    }
  }

  override handleLLMError(_error: unknown, runId: string): void {
    this.starts.delete(runId);
    this.guard.release(runId);
  }

  private async start(
    llm: Serialized,
    input: unknown,
    runId: string,
    parentRunId: string | undefined,
    extraParams: Record<string, unknown> | undefined,
    metadata: Record<string, unknown> | undefined,
    runName: string | undefined,
  ): Promise<void> {
    if (!this.guard.enabled || this.starts.has(runId)) return;
    const invocationParams = extraParams?.invocation_params as Record<string, unknown> | undefined;
    const declared: ModelStart = { metadata, invocationParams, serialized: llm, runName };
    const { model, deployment, provider } = extractModel(undefined, declared);
    const { estimate, basis } = this.estimate(input, invocationParams, model, provider, deployment);
    try {
      await this.guard.reserve({
        runId,
        userId: resolveUserId(metadata, this.defaults) ?? ANONYMOUS_USER,
        provider: provider ?? undefined,
        model: model ?? undefined,
        // Only `lc_agent_name` and the default are visible here (the chain runs above are the tracking handler's).
        agentName: resolveAgentName(metadata, parentRunId, NO_CHAINS, this.defaults),
        dimensions: resolveDimensions(metadata, this.defaults.dimensions),
        estimate,
        estimateBasis: basis,
      });
    } catch (error) {
      if (error instanceof BudgetExceededError) throw error;
      // Fail open: a store that cannot be read (unusable, down) must not refuse the call.
      this.guard.failedOpen(error);
      return;
    }
    this.starts.set(runId, declared);
  }

  private estimate(
    input: unknown,
    invocationParams: Record<string, unknown> | undefined,
    model: string | null,
    provider: string | null,
    deployment: string | null,
  ): { estimate: UsageAmount; basis: string } {
    const options = this.guard.estimateOptions;
    const inputTokens = estimatePromptTokens(input, options.charsPerToken);
    const declaredMax = declaredMaxOutputTokens(invocationParams);
    const outputTokens = declaredMax ?? options.defaultMaxOutputTokens;
    const basis =
      `${inputTokens} prompt tokens (characters / ${options.charsPerToken}, plus ${4} per message) + ` +
      (declaredMax !== undefined ? `max_tokens ${declaredMax}` : `${outputTokens} output tokens (default: the call declares no max_tokens)`);
    let costNanos = 0;
    try {
      costNanos = this.guard.pricer.price({ inputTokens, outputTokens }, { model: model ?? "unknown", provider: provider ?? undefined, deployment }).totalCostNanos;
    } catch {
      // An unpriced model reserves no cost; its records are flagged unpriced too.
    }
    return { estimate: { tokens: inputTokens + outputTokens, costNanos }, basis };
  }
}
