/**
 * Strict requests: a query parameter or body field a route does not declare is a 400 naming it.
 * Fastify's default Ajv silently REMOVES undeclared properties (`removeAdditional: true`), so a
 * misspelt or unsupported filter was ignored: as admin, `export.csv?user_id=bob` (the field is
 * `userId`) exported every user's rows. This hook runs before validation on every route of the
 * plugin, so it holds whatever Ajv options the host app uses, and a new route is strict by default:
 * - query: only the properties of the route's `querystring` schema (none without one);
 * - body: only the properties of the route's `body` schema when it sets
 *   `additionalProperties: false`; no body at all on a route without a body schema.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ValidationError } from "../errors.js";

interface ObjectSchema {
  properties?: Record<string, unknown>;
  additionalProperties?: unknown;
}

const NONE: ReadonlySet<string> = new Set();
const known = new WeakMap<object, ReadonlySet<string>>();

function declared(schema: ObjectSchema): ReadonlySet<string> {
  let names = known.get(schema);
  if (!names) {
    names = new Set(Object.keys(schema.properties ?? {}));
    known.set(schema, names);
  }
  return names;
}

function routeName(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? request.url.split("?")[0]}`;
}

function checkQuery(request: FastifyRequest): void {
  const query = request.query;
  if (!query || typeof query !== "object") return;
  const schema = request.routeOptions.schema?.querystring as ObjectSchema | undefined;
  const allowed = schema ? declared(schema) : NONE;
  for (const name of Object.keys(query)) {
    if (!allowed.has(name)) {
      const list = [...allowed].join(", ") || "none";
      throw new ValidationError(name, `is not a query parameter of ${routeName(request)} (accepted: ${list})`);
    }
  }
}

function checkBody(request: FastifyRequest): void {
  const body = request.body;
  if (body === undefined || body === null || body === "") return;
  const schema = request.routeOptions.schema?.body as ObjectSchema | undefined;
  if (!schema) throw new ValidationError("body", `${routeName(request)} takes no request body`);
  if (schema.additionalProperties !== false || typeof body !== "object" || Array.isArray(body)) return;
  const allowed = declared(schema);
  for (const name of Object.keys(body)) {
    if (!allowed.has(name)) throw new ValidationError(name, `is not a field of the ${routeName(request)} body (accepted: ${[...allowed].join(", ")})`);
  }
}

/** Registers the check on every route of `app` (and of the plugins registered in it). */
export function registerStrictParams(app: FastifyInstance): void {
  app.addHook("preValidation", async (request) => {
    checkQuery(request);
    checkBody(request);
  });
}
