/**
 * `startServer`: builds the app and listens. It refuses a non-loopback host while
 * no key is configured, because the only way to reach the data would then be to
 * turn authentication off.
 */
import type { FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import { isIP } from "node:net";
import { ValidationError } from "../errors.js";
import { createTokenMonitor, type TokenMonitoringService } from "../monitor/token-monitor.js";
import { hasApiKeys } from "./auth/api-keys.js";
import { buildApp, type BuildAppOptions } from "./build-app.js";
import { resolveAdminKey } from "./plugin.js";

export interface StartServerOptions extends Partial<BuildAppOptions> {
  /** @default 8787 */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /** Stops listening; closes the monitor too when `startServer` created it. */
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ValidationError("port", `must be 0-65535, got ${String(port)}`);
  const ownMonitor: TokenMonitoringService | undefined = options.monitor ? undefined : createTokenMonitor({ env: options.env });
  const monitor = options.monitor ?? ownMonitor!;
  try {
    const adminKey = resolveAdminKey(options.adminKey, options.env);
    if (!isLoopback(host) && !adminKey && !(await hasApiKeys(monitor.store))) {
      throw new ValidationError(
        "host",
        `refusing to listen on ${host} with no API key configured: set TOKEN_USAGE_ADMIN_KEY or run \`token-usage keys create --user <id>\`, or listen on 127.0.0.1`,
      );
    }
    const app = await buildApp({ ...options, monitor, adminKey });
    await app.listen({ port, host });
    const address = app.server.address() as AddressInfo;
    const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return {
      app,
      url: `http://${shownHost}:${address.port}`,
      async close() {
        await app.close();
        await ownMonitor?.close();
      },
    };
  } catch (error) {
    await ownMonitor?.close();
    throw error;
  }
}
