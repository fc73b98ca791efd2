/**
 * `@opentelemetry/api` is an optional peer: loaded on first use, like the Cosmos SDK.
 * Unlike the Cosmos store, telemetry is on by default, so a missing package is not an
 * error: without the API there is no MeterProvider to report to, and telemetry stays off.
 */
export type OtelApi = typeof import("@opentelemetry/api");

/** Resolves to the API, or null when it is not installed. `importer` is replaceable for tests. */
export async function loadOtelApi(importer: () => Promise<OtelApi> = () => import("@opentelemetry/api")): Promise<OtelApi | null> {
  try {
    const api = (await importer()) as OtelApi & { default?: OtelApi };
    // An ESM namespace or a CommonJS default export, depending on how this package was loaded.
    return api.metrics ? api : (api.default ?? null);
  } catch {
    return null;
  }
}
