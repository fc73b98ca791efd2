/**
 * Fake Gemini API server (`POST {url}/v1beta/models/{model}:generateContent` and
 * `:streamGenerateContent?alt=sse`).
 *
 * Reports usage the way Gemini does: `promptTokenCount` includes `cachedContentTokenCount`;
 * `candidatesTokenCount` EXCLUDES thinking, which comes as `thoughtsTokenCount`, and
 * `totalTokenCount` is prompt + candidates + thoughts.
 *
 * Streaming sends `chunks` SSE events (default 3), each carrying the CUMULATIVE usageMetadata
 * so far (prompt and cache counts repeated on every chunk, candidates growing), as Gemini does.
 *
 * Point `ChatGoogleGenerativeAI` at it with `baseUrl: server.url` and any `apiKey`.
 */
import { type FakeServer, type FakeUsage, sendJson, sendSse, splitText, startServer, withDefaults } from "./shared.js";

export interface FakeGeminiOptions {
  /** Reported as `modelVersion`. @default "gemini-2.5-flash" */
  modelVersion?: string;
  usage?: Partial<FakeUsage> | ((callIndex: number) => Partial<FakeUsage>);
  /** Number of streaming events. @default 3 */
  chunks?: number;
  /** @default "Hello from the fake Gemini server." */
  reply?: string;
}

/** Native usageMetadata after `fraction` (0..1] of the candidates were produced. */
export function toGeminiUsage(u: FakeUsage, fraction = 1) {
  const candidates = Math.round((u.output - u.reasoning) * fraction);
  const thoughts = u.reasoning;
  return {
    promptTokenCount: u.input,
    candidatesTokenCount: candidates,
    totalTokenCount: u.reportedTotal ?? u.input + candidates + thoughts,
    ...(u.cacheRead > 0 ? { cachedContentTokenCount: u.cacheRead } : {}),
    ...(thoughts > 0 ? { thoughtsTokenCount: thoughts } : {}),
    promptTokensDetails: [{ modality: "TEXT", tokenCount: u.input }],
  };
}

export async function startFakeGeminiServer(options: FakeGeminiOptions = {}): Promise<FakeServer> {
  let calls = 0;
  return startServer((req, res) => {
    const match = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(req.path);
    if (req.method !== "POST" || !match) {
      return sendJson(res, 404, { error: { code: 404, message: req.path, status: "NOT_FOUND" } });
    }
    const callIndex = calls++;
    const usage = withDefaults(typeof options.usage === "function" ? options.usage(callIndex) : options.usage);
    const modelVersion = options.modelVersion ?? "gemini-2.5-flash";
    const reply = options.reply ?? "Hello from the fake Gemini server.";
    const responseId = `gem_fake_${callIndex}`;
    if (match[2] === "generateContent") {
      return sendJson(res, 200, {
        candidates: [{ content: { parts: [{ text: reply }], role: "model" }, finishReason: "STOP", index: 0 }],
        usageMetadata: toGeminiUsage(usage),
        modelVersion,
        responseId,
      });
    }
    const pieces = splitText(reply, options.chunks ?? 3);
    sendSse(
      res,
      pieces.map((text, i) => ({
        data: {
          candidates: [
            {
              content: { parts: [{ text }], role: "model" },
              ...(i === pieces.length - 1 ? { finishReason: "STOP" } : {}),
              index: 0,
            },
          ],
          usageMetadata: toGeminiUsage(usage, (i + 1) / pieces.length),
          modelVersion,
          responseId,
        },
      })),
    );
  });
}
