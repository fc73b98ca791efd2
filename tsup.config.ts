import { defineConfig } from "tsup";

// One ESM and one CommonJS build of the library and the CLI, with type declarations for both.
export default defineConfig({
  entry: { index: "src/index.ts", server: "src/server/index.ts", cli: "src/cli/main.ts" },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  // Optional and peer packages are resolved from the user's project at run time.
  external: ["@azure/cosmos", "@langchain/core", "better-sqlite3", "chart.js"],
});
