/**
 * The published package's types and packaging, from the tarball `npm pack` makes: a strict
 * TypeScript consumer (`skipLibCheck: false`) that has not installed the optional Cosmos
 * SDK, and the packaging linters TypeScript library authors rely on (publint,
 * arethetypeswrong). Independent of the Node version, so `npm test` runs it once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installConsumer, installedPackages, must, packProject, ROOT, run } from "./support.js";

let work: string;
let tarball: string;
let consumer: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "token-usage-pack-types-"));
  tarball = await packProject(work);
  consumer = await installConsumer(tarball, { typescript: true });
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  if (consumer) rmSync(consumer, { recursive: true, force: true });
});

describe("the published package's types and packaging", () => {
  it("passes publint and arethetypeswrong on the tarball", async () => {
    const publint = await must(join(ROOT, "node_modules/.bin/publint"), ["run", "--strict", tarball], { cwd: ROOT });
    expect(publint.stdout).toContain("All good!");
    const attw = await run(join(ROOT, "node_modules/.bin/attw"), [tarball, "--format", "ascii"], { cwd: ROOT });
    expect(attw.code, attw.stdout + attw.stderr).toBe(0);
    expect(attw.stdout).toContain("No problems found");
  });

  it("type-checks a strict consumer (skipLibCheck false) that has not installed @azure/cosmos", async () => {
    const src = join(consumer, "src");
    mkdirSync(src, { recursive: true });
    const body = (from: string) => `
      import { attachTokenTracking, createTokenMonitor, CosmosUsageStore, SqliteUsageStore, type UsageRecord, type UsageStore } from "${from}";
      import { buildApp } from "${from}/server";
      const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:" });
      const config = attachTokenTracking({ configurable: { user_id: "alice", thread_id: "t1" } }, { agentName: "agent", monitor });
      const record: Promise<UsageRecord> = monitor.trackUsage({ userId: "alice", provider: "openai", model: "gpt-4o", inputTokens: 1, outputTokens: 1 });
      const stores: UsageStore[] = [new SqliteUsageStore({ path: ":memory:" }), new CosmosUsageStore({ endpoint: "https://example.documents.azure.com", key: "a2V5" })];
      export const all = [config, record, stores, buildApp({ monitor })];
      // @ts-expect-error a misspelt option is an error, so the types are really checked
      createTokenMonitor({ sqlitePaht: "x.db" });
    `;
    writeFileSync(join(src, "esm.mts"), body("langchain-token-tracking"));
    writeFileSync(join(src, "cjs.cts"), body("langchain-token-tracking"));
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, skipLibCheck: false, module: "nodenext", moduleResolution: "nodenext", target: "es2022", noEmit: true, types: ["node"] },
        include: ["src"],
      }),
    );
    expect(installedPackages(consumer)).not.toContain("@azure/cosmos");
    const tsc = await run(process.execPath, [join(consumer, "node_modules/typescript/bin/tsc"), "-p", "."], { cwd: consumer });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.code).toBe(0);
  });
});
