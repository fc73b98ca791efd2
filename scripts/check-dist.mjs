// Loads the built package both ways a user would, and checks the public API is there.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const esm = await import("../dist/index.js");
const cjs = require("../dist/index.cjs");
for (const [kind, mod] of [["ESM", esm], ["CommonJS", cjs]]) {
  for (const name of ["TokenTrackingCallbackHandler", "attachTokenTracking", "createTokenMonitor", "calculateCost", "SqliteUsageStore"]) {
    if (typeof mod[name] !== "function") throw new Error(`${kind} build lacks ${name}`);
  }
  // The worker-thread store starts its worker from beside the bundle.
  const store = new mod.SqliteWorkerStore({ path: ":memory:" });
  if ((await store.append([])).inserted !== 0) throw new Error(`${kind} worker store answered wrongly`);
  await store.close();
  const cost = mod.calculateCost({ inputTokens: 1000, outputTokens: 100 }, { model: "gpt-4o", provider: "openai" });
  if (!cost.priced || !(cost.totalCost > 0)) throw new Error(`${kind} build prices nothing`);
}
console.log("dist: ESM and CommonJS builds load, price, and start the SQLite worker");
