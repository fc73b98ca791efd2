/**
 * `--version` prints package.json's version, from the sources and from a bin built
 * the way the package builds it (tsup, ESM and CommonJS, beside the package root).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliEnv, runCli, runNode, tempDir } from "./run-cli.js";

const expected = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
// One level below the package root, as dist/ is, so the bin finds package.json as it does when installed.
const outDir = mkdtempSync(join(process.cwd(), ".cli-build-"));
const env = cliEnv(join(tempDir(), "usage.db"));

beforeAll(async () => {
  await build({
    entry: { cli: "src/cli/main.ts" },
    format: ["esm", "cjs"],
    shims: true,
    outDir,
    dts: false,
    silent: true,
    config: false,
    target: "node20",
    external: ["@azure/cosmos", "@langchain/core", "better-sqlite3", "chart.js"],
  });
}, 120_000);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("--version", () => {
  it("from the sources prints package.json's version", async () => {
    expect(expected).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ["--version", "-V"]) {
      const res = await runCli([flag], env);
      expect(res).toMatchObject({ code: 0, stdout: `${expected}\n`, stderr: "" });
    }
  });

  for (const file of ["cli.js", "cli.cjs"]) {
    it(`from the built bin (${file}) prints package.json's version`, async () => {
      const res = await runNode([join(outDir, file), "--version"], env, { cwd: tempDir() });
      expect(res).toMatchObject({ code: 0, stdout: `${expected}\n`, stderr: "" });
    });
  }

  it("is listed in --help", async () => {
    expect((await runCli(["--help"], env)).stdout).toMatch(/-V, --version\s+print the version/);
  });
});
