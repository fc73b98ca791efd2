/**
 * The dashboard: a static page, its script and Chart.js, all public because they
 * hold no data. The page reads the API with the key the user enters.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { chartJsSource } from "../dashboard/chart-asset.js";
import { DASHBOARD_SCRIPT } from "../dashboard/client-script.js";
import { DASHBOARD_HTML } from "../dashboard/page-html.js";
import { HttpError } from "../http-errors.js";

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function secured(reply: FastifyReply): FastifyReply {
  return reply.header("content-security-policy", CSP).header("x-content-type-options", "nosniff").header("referrer-policy", "no-referrer");
}

export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  const hide = { hide: true };
  app.get("/", { config: { public: true }, schema: hide }, async (_request, reply) =>
    secured(reply).type("text/html; charset=utf-8").header("cache-control", "no-cache").send(DASHBOARD_HTML),
  );
  app.get("/dashboard/app.js", { config: { public: true }, schema: hide }, async (_request, reply) =>
    secured(reply).type("text/javascript; charset=utf-8").header("cache-control", "no-cache").send(DASHBOARD_SCRIPT),
  );
  app.get("/dashboard/chart.umd.js", { config: { public: true }, schema: hide }, async (_request, reply) => {
    const source = chartJsSource();
    if (source === null) throw new HttpError(404, "NotFound", "chart.js is not installed; install it to see the dashboard's charts");
    return secured(reply).type("text/javascript; charset=utf-8").header("cache-control", "public, max-age=86400").send(source);
  });
}
