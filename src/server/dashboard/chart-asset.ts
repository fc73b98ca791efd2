/**
 * Finds Chart.js's UMD build in the installed `chart.js` package so the dashboard
 * never loads scripts from a CDN. Resolved once, lazily; works from the ESM and
 * CommonJS builds and from source.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const CANDIDATES = ["chart.umd.min.js", "chart.umd.js"];
let cached: string | null | undefined;

function resolver(): NodeJS.Require {
  // Always createRequire: in the ESM bundle `require` is the bundler's stub, which exists
  // (so a typeof check passes) but cannot resolve anything. tsup's shims give the
  // CommonJS build an import.meta.url.
  return createRequire(import.meta.url);
}

/** The UMD source, or null (with the dashboard then showing no charts) when chart.js is not installed. */
export function chartJsSource(): string | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    const dist = dirname(resolver().resolve("chart.js"));
    for (const name of CANDIDATES) {
      const file = join(dist, name);
      if (existsSync(file)) {
        cached = readFileSync(file, "utf8");
        break;
      }
    }
  } catch {
    cached = null;
  }
  return cached;
}
