/**
 * Fake provider servers for tests: each starts a node:http server on 127.0.0.1 (random port),
 * counts requests and answers in the provider's real JSON and streaming formats with the usage
 * it is told to report (see `FakeUsage`: inclusive input/output plus cache and reasoning).
 */
export * from "./shared.js";
export * from "./openai-chat.js";
export * from "./openai-responses.js";
export * from "./azure.js";
export * from "./anthropic.js";
export * from "./gemini.js";
export * from "./bedrock-converse.js";
