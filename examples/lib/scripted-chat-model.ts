/**
 * A chat model for examples and the demo: no API key, no network. It answers like
 * a real provider would, including the usage a provider reports (input tokens with
 * a cached share, output tokens), and can call one tool before answering, so a
 * LangGraph agent runs a real tool loop on it.
 */
import { BaseChatModel, type BaseChatModelParams } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import type { StructuredToolInterface } from "@langchain/core/tools";

export interface ScriptedChatModelOptions extends BaseChatModelParams {
  /** The model name the "provider" reports (it is priced from the catalog). @default "gpt-4o-mini" */
  model?: string;
  /** The provider id LangChain would report. @default "openai" */
  provider?: string;
  /** Name of a tool to call once before answering. */
  toolName?: string;
}

export class ScriptedChatModel extends BaseChatModel {
  readonly model: string;
  readonly provider: string;
  private readonly toolName: string | undefined;

  constructor(options: ScriptedChatModelOptions = {}) {
    super(options);
    this.model = options.model ?? "gpt-4o-mini";
    this.provider = options.provider ?? "openai";
    this.toolName = options.toolName;
  }

  _llmType(): string {
    return "scripted";
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    return { ...super.getLsParams(options), ls_provider: this.provider, ls_model_name: this.model, ls_model_type: "chat" as const };
  }

  override bindTools(tools: StructuredToolInterface[]): ScriptedChatModel {
    return new ScriptedChatModel({ model: this.model, provider: this.provider, toolName: tools[0]?.name });
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const promptChars = messages.reduce((n, m) => n + String(m.content).length, 0);
    // Deterministic, realistic-looking counts: a system prompt of ~300 tokens that the provider caches.
    const inputTokens = 300 + Math.ceil(promptChars / 4);
    const cacheRead = messages.length > 2 ? 256 : 0;
    const lastIsTool = messages[messages.length - 1]?.getType() === "tool";
    const callTool = this.toolName !== undefined && !lastIsTool;
    const text = callTool ? "" : `Answer (${messages.length} messages seen).`;
    const outputTokens = callTool ? 18 : 40 + (promptChars % 60);
    const message = new AIMessage({
      content: text,
      tool_calls: callTool ? [{ id: `call_${messages.length}`, name: this.toolName!, args: { query: "status" }, type: "tool_call" }] : [],
      usage_metadata: {
        input_tokens: inputTokens,
        output_tokens: outputTokens,
        total_tokens: inputTokens + outputTokens,
        input_token_details: { cache_read: cacheRead },
      },
      response_metadata: { model_name: this.model, finish_reason: callTool ? "tool_calls" : "stop" },
    });
    return { generations: [{ text, message }] };
  }
}
