/**
 * Added cost per model call (start + end) of the tracking handler, next to a no-op
 * handler and Langfuse's LangChain handler (no exporter configured: its spans go
 * nowhere), interleaved round by round so all three see the same machine load.
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import type { Serialized } from "@langchain/core/load/serializable";
import type { ChatGeneration, LLMResult } from "@langchain/core/outputs";
import { CallbackHandler as LangfuseHandler } from "@langfuse/langchain";
import { randomUUID } from "node:crypto";
import { createTokenMonitor } from "../src/index.js";
import { median, fmt, yieldToLoop, type Row } from "./stats.js";

class NoopHandler extends BaseCallbackHandler {
  name = "noop";
  override handleChatModelStart() {}
  override handleLLMEnd() {}
}

const serialized: Serialized = { lc: 1, type: "constructor", id: ["langchain", "chat_models", "openai", "ChatOpenAI"], kwargs: {} };
const messages = [[new HumanMessage("What is the weather in Paris?")]];
const extraParams = { invocation_params: { model: "gpt-4o-mini", temperature: 0 } };
const metadata = {
  user_id: "user-42",
  thread_id: "thread-7",
  ls_provider: "openai",
  ls_model_name: "gpt-4o-mini",
  ls_model_type: "chat",
  langgraph_node: "agent",
};
const output: LLMResult = {
  // A ChatGeneration, as chat models produce.
  generations: [[{
    text: "Sunny.",
    message: new AIMessage({
      content: "Sunny.",
      usage_metadata: { input_tokens: 1200, output_tokens: 80, total_tokens: 1280, input_token_details: { cache_read: 1024 } },
      response_metadata: { model_name: "gpt-4o-mini-2024-07-18" },
    }),
  } as ChatGeneration]],
  llmOutput: { tokenUsage: { promptTokens: 1200, completionTokens: 80, totalTokens: 1280 } },
};

type Handler = Pick<BaseCallbackHandler, "handleChatModelStart" | "handleLLMEnd">;

function timeBatch(handler: Handler, runIds: string[]): number {
  const t0 = process.hrtime.bigint();
  for (const runId of runIds) {
    handler.handleChatModelStart!(serialized, messages, runId, undefined, extraParams, [], metadata);
    handler.handleLLMEnd!(output, runId);
  }
  return Number(process.hrtime.bigint() - t0) / 1000 / runIds.length; // µs per call
}

export async function benchHandlerOverhead(rounds = 40, batch = 1000): Promise<Row[]> {
  const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:" });
  const ours = monitor.createCallbackHandler({ agentName: "bench" });
  const noop = new NoopHandler();
  const langfuse = new LangfuseHandler({ userId: "user-42", sessionId: "thread-7" }) as unknown as Handler;
  const samples = { ours: [] as number[], noop: [] as number[], langfuse: [] as number[] };
  for (let round = 0; round < rounds + 5; round++) {
    for (const [name, handler] of [["ours", ours], ["noop", noop], ["langfuse", langfuse]] as const) {
      const ids = Array.from({ length: batch }, () => randomUUID());
      const us = timeBatch(handler, ids);
      if (round >= 5) samples[name].push(us); // the first rounds warm the JIT
    }
    // Let the writer store what the handler queued, off the measured path.
    await monitor.flush();
    await yieldToLoop();
  }
  const stored = (await monitor.getOverallUsage({ days: 1, end: new Date(Date.now() + 60_000) })).totalRequests;
  await monitor.close();
  const o = median(samples.ours);
  const n = median(samples.noop);
  const l = median(samples.langfuse);
  return [
    { section: "handler overhead", measure: "tracking handler, start + end, median per call", value: `${fmt(o)} µs`, note: `${stored.toLocaleString("en-US")} records stored by the background writer` },
    { section: "handler overhead", measure: "no-op handler, same calls", value: `${fmt(n)} µs` },
    { section: "handler overhead", measure: "@langfuse/langchain handler (no exporter), same calls", value: `${fmt(l)} µs` },
    { section: "handler overhead", measure: "ours minus no-op (added cost per call)", value: `${fmt(o - n)} µs` },
    { section: "handler overhead", measure: "Langfuse ÷ ours", value: `${fmt(l / o, 1)}×`, note: "target ≥ 10×" },
  ];
}
