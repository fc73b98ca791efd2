/**
 * `buildApp(options)`: the complete server (API, OpenAPI document, `/docs`,
 * dashboard) as a Fastify instance that does not listen. Tests call `inject()` on
 * it; `startServer` and the CLI's `serve` make it listen.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { HttpError, handleError } from "./http-errors.js";
import { tokenUsagePlugin, type TokenUsagePluginOptions } from "./plugin.js";

export interface BuildAppOptions extends TokenUsagePluginOptions {
  /** Fastify's logger option. Request logs carry method and URL, never headers or keys. @default false */
  logger?: FastifyServerOptions["logger"];
  /** Largest request body in bytes. @default 65536 */
  bodyLimit?: number;
  /** Serve the OpenAPI document and the interactive docs at `/docs`. @default true */
  docs?: boolean;
}

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 65_536,
    // Ids may be up to 1024 characters (schema-checked); Fastify's default cuts path parameters at 100.
    routerOptions: { maxParamLength: 4096 },
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    handleError(new HttpError(404, "NotFound", `no route ${request.method} ${request.url.split("?")[0]}`), request, reply),
  );
  if (options.docs !== false) {
    await app.register(swagger, {
      openapi: {
        info: { title: "Token usage API", version: "1", description: "Token usage and cost of LangChain.js model calls." },
        components: {
          securitySchemes: {
            apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
            bearer: { type: "http", scheme: "bearer" },
          },
        },
      },
    });
    await app.register(swaggerUi, { routePrefix: "/docs" });
  }
  await app.register(tokenUsagePlugin, options);
  await app.ready();
  return app;
}
