/**
 * The callback handler that turns every model call into one usage record.
 *
 * It observes and never breaks the chain: `raiseError` stays false, every hook is
 * guarded, and nothing here awaits I/O (finished records go to a `RecordSink`,
 * normally the buffered writer). Start callbacks are the only ones that receive
 * metadata, so what they say is kept per run id until the matching end or error,
 * and deleted then (on both paths, so failed calls leak nothing).
 */
import { BaseCallbackHandler, type HandleLLMNewTokenCallbackFields, type NewTokenIndices } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import type { ChainValues } from "@langchain/core/utils/types";
import type { OperationType, UsageRecord } from "../record/types.js";
import type { Pricer } from "../pricing/types.js";
import type { Logger, RecordSink } from "../writer/buffered-writer.js";
import { chainAgentName, resolveAgentName, type AttributionDefaults, type ChainRun } from "./attribution.js";
import { extractModel, type ExtractedModel } from "./extract-model.js";
import { extractUsage, observeStreamChunk, type ExtractedUsage } from "./extract-usage.js";
import { requestMetadata, runRecord, type ModelRun } from "./run-record.js";

export interface TokenTrackingHandlerOptions extends AttributionDefaults {
  sink: RecordSink;
  pricer: Pricer;
  /** Charge-back dimensions added to every record (tenant, department, feature, ...). */
  dimensions?: Record<string, string>;
  logger?: Logger;
}




/** A model call running longer than this is taken as abandoned. */
const ABANDONED_RUN_MS = 60 * 60 * 1000;

export class TokenTrackingCallbackHandler extends BaseCallbackHandler {
  name = "token_tracking_handler";
  private readonly runs = new Map<string, ModelRun>();
  private readonly chains = new Map<string, ChainRun>();
  private readonly logger: Logger;
  private starts = 0;

  constructor(private readonly options: TokenTrackingHandlerOptions) {
    // Tracking must never fail the user's call.
    super({ raiseError: false });
    this.logger = options.logger ?? { warn: (m) => console.warn(`[token-tracking] ${m}`), error: (m) => console.error(`[token-tracking] ${m}`) };
  }

  /** Model runs started and not yet ended (for leak checks and diagnostics). */
  get openRuns(): number {
    return this.runs.size + this.chains.size;
  }

  // The callback manager of @langchain/core 1.x calls this as (chain, inputs, runId,
  // parentRunId, tags, metadata, runType, runName), whatever the declared parameter names say.
  override handleChainStart(
    chain: Serialized,
    _inputs: ChainValues,
    runId: string,
    parentRunId?: string,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    _runType?: string,
    runName?: string,
  ): void {
    try {
      this.chains.set(runId, {
        runName,
        parentRunId,
        agentName: chainAgentName(chain, runName, metadata, parentRunId === undefined),
        startedAtEpochMs: Date.now(),
      });
    } catch (error) {
      this.report("chain start", error);
    }
  }

  override handleChainEnd(_outputs: ChainValues, runId: string): void {
    this.chains.delete(runId);
  }

  override handleChainError(_error: unknown, runId: string): void {
    this.chains.delete(runId);
  }

  override handleChatModelStart(
    llm: Serialized,
    _messages: BaseMessage[][],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
  ): void {
    this.start("chat", llm, runId, parentRunId, extraParams, tags, metadata, runName);
  }

  override handleLLMStart(
    llm: Serialized,
    _prompts: string[],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
  ): void {
    this.start("llm", llm, runId, parentRunId, extraParams, tags, metadata, runName);
  }

  override handleLLMEnd(output: LLMResult, runId: string, _parentRunId?: string, _tags?: string[], extraParams?: Record<string, unknown>): void {
    const run = this.runs.get(runId);
    if (!run) return; // not ours, or already recorded (the same handler attached twice)
    this.runs.delete(runId);
    const endedAt = performance.now();
    try {
      // Usage is read now: on a later cache hit LangChain zeroes the usage of these very
      // objects. The model name is not touched, so reading it waits for the background.
      const usage = extractUsage(output, run.stream, run.metadata?.ls_provider);
      const cached = extraParams?.cached === true;
      this.finish(runId, run, endedAt, (r) => this.successRecord(runId, r, usage, extractModel(output, this.modelStart(r)), cached));
    } catch (error) {
      this.report(`end of run ${runId}`, error);
    }
  }

  override handleLLMNewToken(
    _token: string,
    _idx: NewTokenIndices,
    runId: string,
    _parentRunId?: string,
    _tags?: string[],
    fields?: HandleLLMNewTokenCallbackFields,
  ): void {
    const run = this.runs.get(runId);
    if (!run) return;
    try {
      // Streaming corrections (Anthropic's doubled first count, Gemini's repeated cache count) need the chunks.
      run.stream = observeStreamChunk(run.stream, fields);
    } catch (error) {
      this.report(`stream chunk of run ${runId}`, error);
    }
  }

  override handleLLMError(error: unknown, runId: string): void {
    const run = this.runs.get(runId);
    if (!run) return;
    this.runs.delete(runId);
    this.finish(runId, run, performance.now(), (r) => this.errorRecord(runId, r, error));
  }

  private start(
    operation: OperationType,
    llm: Serialized,
    runId: string,
    parentRunId: string | undefined,
    extraParams: Record<string, unknown> | undefined,
    tags: string[] | undefined,
    metadata: Record<string, unknown> | undefined,
    runName: string | undefined,
  ): void {
    if (this.runs.has(runId)) return; // the same handler attached twice sees each event twice
    if ((++this.starts & 1023) === 0) this.sweepAbandonedRuns();
    try {
      // Only references are kept here; everything else is worked out off the agent's path.
      this.runs.set(runId, {
        operation,
        startedAt: performance.now(),
        startedAtEpochMs: Date.now(),
        parentRunId,
        // The chain map changes as the graph runs: the agent is resolved now, the rest later.
        agentName: resolveAgentName(metadata, parentRunId, this.chains, this.options),
        tags,
        metadata,
        extraParams,
        serialized: llm,
        runName,
      });
    } catch (error) {
      this.report(`start of run ${runId}`, error);
    }
  }

  /**
   * A start with no end or error ever (a budget guard refusing the call in its own start
   * callback, a stream abandoned half-way) would stay in the map for good: model and chain
   * runs older than `ABANDONED_RUN_MS` are dropped, oldest first (maps keep insertion order).
   */
  private sweepAbandonedRuns(): void {
    const cutoff = Date.now() - ABANDONED_RUN_MS;
    for (const map of [this.runs, this.chains] as Array<Map<string, { startedAtEpochMs?: number }>>) {
      for (const [runId, run] of map) {
        if ((run.startedAtEpochMs ?? 0) >= cutoff) break;
        map.delete(runId);
      }
    }
  }

  /**
   * Hands the run to the sink. With a sink that builds in the background (the writer),
   * the agent pays only for this call; otherwise the record is built here.
   */
  private finish(runId: string, run: ModelRun, endedAt: number, build: (run: ModelRun) => UsageRecord): void {
    run.latencyMs = Math.round((endedAt - run.startedAt) * 1000) / 1000;
    try {
      const sink = this.options.sink;
      if (sink.enqueueDeferred) sink.enqueueDeferred(() => build(run));
      else sink.enqueue(build(run));
    } catch (error) {
      this.report(`run ${runId}`, error);
    }
  }

  private successRecord(runId: string, run: ModelRun, usage: ExtractedUsage, found: ExtractedModel, cached: boolean): UsageRecord {
    const metadata = requestMetadata(run);
    if (cached && usage.found && usage.totalTokens > 0) metadata.cache_hit_usage = { input: usage.inputTokens, output: usage.outputTokens };
    if (!usage.found && !cached) metadata.usage_missing = true;
    // The provider's total contradicted its own parts: the parts are recorded and billed, the
    // total is kept here for the audit (see extract-usage.ts).
    if (usage.contradictedTotal !== null && !cached) {
      metadata.total_tokens_mismatch = { reported_total: usage.contradictedTotal, input: usage.inputTokens, output: usage.outputTokens };
    }
    return runRecord(runId, run, {
      provider: found.provider ?? "unknown",
      model: found.model ?? "unknown",
      deployment: found.deployment,
      // A LangChain cache hit reached no provider: it consumed no tokens and costs nothing.
      inputTokens: cached ? 0 : usage.inputTokens,
      outputTokens: cached ? 0 : usage.outputTokens,
      cacheReadTokens: cached ? 0 : usage.cacheReadTokens,
      cacheWriteTokens: cached ? 0 : usage.cacheWriteTokens,
      reasoningTokens: cached ? 0 : usage.reasoningTokens,
      estimated: usage.estimated,
      cached,
      metadata,
    }, this.options);
  }

  private errorRecord(runId: string, run: ModelRun, error: unknown): UsageRecord {
    const { model, deployment, provider } = extractModel(undefined, this.modelStart(run));
    return runRecord(runId, run, {
      provider: provider ?? "unknown",
      model: model ?? "unknown",
      deployment,
      inputTokens: 0,
      outputTokens: 0,
      error: true,
      errorMessage: errorMessage(error),
      metadata: requestMetadata(run),
    }, this.options);
  }

  private modelStart(run: ModelRun) {
    return {
      metadata: run.metadata,
      invocationParams: run.extraParams?.invocation_params as Record<string, unknown> | undefined,
      serialized: run.serialized,
      runName: run.runName,
    };
  }

  private report(what: string, error: unknown): void {
    try {
      this.logger.warn(`${what} not recorded: ${errorMessage(error)}`);
    } catch {
      // A broken logger must not break the agent either.
    }
  }
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  try {
    return String(error);
  } catch {
    return "unknown error";
  }
}
