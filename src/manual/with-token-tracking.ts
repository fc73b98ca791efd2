/**
 * Tracking outside LangChain: `withTokenTracking(fn, options)` wraps any async
 * function that returns a raw OpenAI, Anthropic or Gemini SDK response and records
 * its usage; a thrown error is recorded as an error record and rethrown unchanged.
 */
import { getTokenMonitor, type TokenMonitoringService } from "../monitor/token-monitor.js";
import type { OperationType } from "../record/types.js";
import { usageFromRawResponse } from "./raw-response-usage.js";

export interface WithTokenTrackingOptions {
  provider: string;
  /** Used when the response names no model. */
  model?: string;
  operation?: OperationType;
  userId?: string;
  threadId?: string;
  agentName?: string;
  dimensions?: Record<string, string>;
  monitor?: TokenMonitoringService;
}

export function withTokenTracking<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  options: WithTokenTrackingOptions,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const monitor = options.monitor ?? getTokenMonitor();
    const started = performance.now();
    const base = {
      provider: options.provider,
      operation: options.operation ?? "chat",
      userId: options.userId,
      threadId: options.threadId,
      agentName: options.agentName,
      dimensions: options.dimensions,
    };
    let response: R;
    try {
      response = await fn(...args);
    } catch (error) {
      await safeTrack(monitor, {
        ...base,
        model: options.model ?? "unknown",
        inputTokens: 0,
        outputTokens: 0,
        error: true,
        errorMessage: error instanceof Error ? error.message : String(error),
        latencyMs: performance.now() - started,
      });
      throw error;
    }
    const usage = usageFromRawResponse(response);
    await safeTrack(monitor, {
      ...base,
      model: usage?.model ?? options.model ?? "unknown",
      inputTokens: usage?.inputTokens ?? 0,
      outputTokens: usage?.outputTokens ?? 0,
      cacheReadTokens: usage?.cacheReadTokens,
      cacheWriteTokens: usage?.cacheWriteTokens,
      reasoningTokens: usage?.reasoningTokens,
      latencyMs: performance.now() - started,
      metadata: usage ? {} : { usage_missing: true },
    });
    return response;
  };
}

/** Tracking must not turn a successful call into a failed one. */
async function safeTrack(monitor: TokenMonitoringService, input: Parameters<TokenMonitoringService["trackUsage"]>[0]) {
  try {
    await monitor.trackUsage(input);
  } catch (error) {
    console.warn(`[token-tracking] usage not recorded: ${(error as Error).message}`);
  }
}
