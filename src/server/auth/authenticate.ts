/**
 * Resolves the caller of each request from `x-api-key` or `Authorization: Bearer`:
 * the admin key sees everything, a user key only its own user; anything else is 401.
 * Routes marked `config: { public: true }` (health, docs, the dashboard shell) skip it.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { UsageStore } from "../../stores/types.js";
import { notFound, forbidden, unauthorized } from "../http-errors.js";
import type { Principal } from "../types.js";
import { secretsEqual, verifyApiKey } from "./api-keys.js";

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** No API key needed (health, docs, the dashboard page itself). */
    public?: boolean;
  }
}

/** The key a request presents, if any. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers["x-api-key"];
  if (typeof header === "string" && header !== "") return header;
  const auth = request.headers.authorization;
  if (typeof auth === "string") {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  return undefined;
}

export async function resolvePrincipal(key: string, store: UsageStore, adminKey: string | undefined): Promise<Principal | null> {
  if (key.length > 512) return null;
  if (adminKey && secretsEqual(key, adminKey)) return { kind: "admin" };
  const info = await verifyApiKey(store, key);
  return info ? { kind: "user", userId: info.userId, keyId: info.keyId } : null;
}

export function registerAuthentication(app: FastifyInstance, store: UsageStore, adminKey: string | undefined): void {
  app.decorateRequest("principal", null);
  app.addHook("onRequest", async (request) => {
    if (request.routeOptions.config?.public) return;
    const key = presentedKey(request);
    const principal = key === undefined ? null : await resolvePrincipal(key, store, adminKey);
    if (!principal) throw unauthorized();
    request.principal = principal;
  });
}

function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized();
  return request.principal;
}

/**
 * The user a query is restricted to. Admin: the requested user (or none).
 * User key: always its own user; asking for another user's data is a 404, so a
 * key cannot even learn whether that user exists.
 */
export function scopedUser(request: FastifyRequest, requested: string | undefined): string | undefined {
  const principal = principalOf(request);
  if (principal.kind === "admin") return requested;
  if (requested !== undefined && requested !== principal.userId) throw notFound("user");
  return principal.userId;
}

export function requireAdmin(request: FastifyRequest): void {
  if (principalOf(request).kind !== "admin") throw forbidden();
}

export function describePrincipal(request: FastifyRequest): { role: "admin" | "user"; userId: string | null } {
  const principal = principalOf(request);
  return principal.kind === "admin" ? { role: "admin", userId: null } : { role: "user", userId: principal.userId };
}
