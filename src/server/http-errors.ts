/**
 * HTTP errors and the one error handler that turns every failure into
 * `{ error, message }` JSON with a 4xx code for the caller's mistakes and a
 * generic 500 (details only in the log) for ours.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { InvalidCursorError, TokenTrackingError, ValidationError } from "../errors.js";

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

export const unauthorized = () =>
  new HttpError(401, "Unauthorized", "send a valid API key in the x-api-key header or as Authorization: Bearer <key>");
export const forbidden = () => new HttpError(403, "Forbidden", "this endpoint needs the admin key");
export const notFound = (what = "resource") => new HttpError(404, "NotFound", `${what} not found`);

export function handleError(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: err.error, message: err.message });
  if (err instanceof ValidationError) {
    return reply.code(400).send({ error: "ValidationError", code: err.code, field: err.field, message: err.message });
  }
  if (err instanceof InvalidCursorError) return reply.code(400).send({ error: "InvalidCursor", code: err.code, message: err.message });
  const fe = err as FastifyError;
  if (fe.validation) {
    const first = fe.validation[0] as { instancePath?: string; params?: { missingProperty?: string; additionalProperty?: string } };
    const field = first?.instancePath?.replace(/^\//, "").replace(/\//g, ".") || first?.params?.missingProperty || first?.params?.additionalProperty || fe.validationContext || "request";
    return reply.code(400).send({ error: "ValidationError", code: "ERR_VALIDATION", field, message: fe.message });
  }
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    return reply.code(fe.statusCode).send({ error: fe.code ?? "BadRequest", message: fe.message });
  }
  request.log.error({ err }, "token-usage request failed");
  const code = err instanceof TokenTrackingError ? err.code : "ERR_INTERNAL";
  return reply.code(500).send({ error: "InternalError", code, message: "the server failed to answer; see its log" });
}
