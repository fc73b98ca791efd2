/**
 * A minimal callback handler that records what LangChain hands to a handler, so tests can run
 * the extraction functions on exactly that. It is awaited (not backgrounded), so after `invoke`
 * returns everything is recorded.
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";

export interface CapturedStart {
  serialized: Serialized;
  messages: BaseMessage[][];
  runId: string;
  parentRunId?: string;
  extraParams?: Record<string, unknown>;
  tags?: string[];
  metadata?: Record<string, unknown>;
  runName?: string;
}

export interface CapturedEnd {
  output: LLMResult;
  runId: string;
  parentRunId?: string;
  extraParams?: Record<string, unknown>;
}

export interface CapturedToken {
  token: string;
  runId: string;
  fields?: unknown;
}

export class CaptureHandler extends BaseCallbackHandler {
  name = "capture-handler";
  starts: CapturedStart[] = [];
  ends: CapturedEnd[] = [];
  tokens: CapturedToken[] = [];
  errors: unknown[] = [];

  constructor() {
    super({ _awaitHandler: true });
    this.awaitHandlers = true;
  }

  override handleChatModelStart(
    serialized: Serialized,
    messages: BaseMessage[][],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
  ): void {
    this.starts.push({ serialized, messages, runId, parentRunId, extraParams, tags, metadata, runName });
  }

  override handleLLMNewToken(
    token: string,
    _idx: unknown,
    runId: string,
    _parentRunId?: string,
    _tags?: string[],
    fields?: unknown,
  ): void {
    this.tokens.push({ token, runId, fields });
  }

  override handleLLMEnd(output: LLMResult, runId: string, parentRunId?: string, _tags?: string[], extraParams?: Record<string, unknown>): void {
    this.ends.push({ output, runId, parentRunId, extraParams });
  }

  override handleLLMError(err: unknown): void {
    this.errors.push(err);
  }

  /** The start event of a run, for `extractModel`. */
  startOf(runId: string): CapturedStart | undefined {
    return this.starts.find((s) => s.runId === runId);
  }
}
