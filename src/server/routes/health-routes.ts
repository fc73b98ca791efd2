/** Liveness for load balancers: no key needed and no data revealed. */
import type { FastifyInstance } from "fastify";
import type { ServerMonitor } from "../types.js";

export function healthRoutes(monitor: ServerMonitor) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get(
      "/health",
      {
        config: { public: true },
        schema: {
          tags: ["health"],
          summary: "Liveness",
          response: { 200: { type: "object", properties: { status: { type: "string" }, store: { type: "string" } } } },
        },
      },
      async () => ({ status: "ok", store: monitor.store.kind }),
    );
  };
}
