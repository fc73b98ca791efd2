import { defineConfig } from "tsup";

// One ESM and one CommonJS build of the library and the CLI, with type declarations for both.
export default defineConfig({
  // The SQLite worker is its own entry: SqliteWorkerStore starts it from beside the bundle.
  entry: { index: "src/index.ts", server: "src/server/index.ts", cli: "src/cli/main.ts", "sqlite-worker": "src/stores/sqlite/sqlite-worker.ts" },
  // import.meta.url in the CommonJS build (the worker's location).
  shims: true,
  format: ["esm", "cjs"],
  // stripInternal: members marked @internal (they would need better-sqlite3's or
  // @azure/cosmos's types) stay out of what a strict consumer type-checks.
  dts: { compilerOptions: { stripInternal: true } },
  sourcemap: true,
  clean: true,
  target: "node20",
  // Optional and peer packages are resolved from the user's project at run time.
  external: ["@azure/cosmos", "@langchain/core", "better-sqlite3", "chart.js"],
});
