/**
 * The package as published: `npm pack`, the tarball installed into a fresh project, and
 * there everything a user touches first: ESM `import` and CommonJS `require` of the root
 * and `/server`, the installed `token-usage` bin, and its dashboard in Chromium at desktop
 * and phone sizes (the types and the packaging linters: published-types.test.ts).
 * The rest of the suite runs on the sources; this is what catches a build-only breakage
 * (the ESM bin once served no chart.js, so its dashboard drew nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { installConsumer, installedPackages, packProject, ROOT, run, startServe } from "./support.js";

// Browser globals inside page.evaluate callbacks (the project compiles without the DOM lib).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any, Chart: any;

const CHROMIUM = "/usr/bin/chromium";
const ADMIN_KEY = "published-package-admin-key-0123";

/** The root export: the public API, and nothing else (README, Changelog). */
const ROOT_EXPORTS = [
  "ANONYMOUS_USER",
  "BudgetExceededError",
  "BudgetGuard",
  "BudgetGuardHandler",
  "BufferedWriter",
  "ClosedError",
  "CosmosUsageStore",
  "InvalidCursorError",
  "MissingDependencyError",
  "PricingConfigError",
  "SqliteUsageStore",
  "SqliteWorkerStore",
  "StoreError",
  "TokenMonitoringService",
  "TokenTrackingCallbackHandler",
  "TokenTrackingError",
  "ValidationError",
  "attachTokenTracking",
  "calculateCost",
  "createBudgetGuard",
  "createPricer",
  "createStore",
  "createTokenMonitor",
  "createTokenTrackingCallback",
  "fromStored",
  "getTokenMonitor",
  "installGracefulShutdown",
  "loadBudgetConfigFile",
  "loadLiteLLMPrices",
  "loadPricingOverridesFile",
  "parseBudgetConfig",
  "setTokenMonitor",
  "toStored",
  "trackEmbeddings",
  "withTokenTracking",
];
const SERVER_EXPORTS = ["buildApp", "createApiKey", "isLoopback", "listApiKeys", "revokeApiKey", "startServer", "tokenUsagePlugin", "verifyApiKey"];

let work: string;
let tarball: string;
let consumer: string;
let env: NodeJS.ProcessEnv;
let db: string;
let seeded: { requests: number; costNanos: number; users: string[]; threads: number };
let serve: { url: string; child: ChildProcess; stderr: () => string } | undefined;
let browser: Browser | undefined;

const node = (args: string[]) => run(process.execPath, args, { cwd: consumer, env });
const bin = (args: string[]) => run(join(consumer, "node_modules/.bin/token-usage"), args, { cwd: consumer, env });

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium is not installed at ${CHROMIUM}: run scripts/ensure-chromium.sh (as root) first`);
  work = mkdtempSync(join(tmpdir(), "token-usage-pack-"));
  tarball = await packProject(work);
  consumer = await installConsumer(tarball);
  db = join(consumer, "usage.db");
  env = { ...process.env, TOKEN_USAGE_DB: db, TOKEN_USAGE_ADMIN_KEY: ADMIN_KEY };
  delete env.TOKEN_USAGE_STORE;
  delete env.NODE_OPTIONS; // vitest's own loader hooks are not the user's
}, 600_000);

afterAll(async () => {
  await browser?.close();
  serve?.child.kill("SIGTERM");
  if (work) rmSync(work, { recursive: true, force: true });
  if (consumer) rmSync(consumer, { recursive: true, force: true });
});

describe("the published package (npm pack, installed into a fresh project): fails if the ESM bin's chart asset breaks again", () => {
  it("imports the root and /server with ESM import and CommonJS require, and the root exports only the public API", async () => {
    const names = "JSON.stringify({ node: process.version, root: Object.keys(root).sort(), server: Object.keys(server).sort() })";
    const esm = await node(["--input-type=module", "-e", `const root = await import("langchain-token-tracking"); const server = await import("langchain-token-tracking/server"); console.log(${names});`]);
    const cjs = await node(["-e", `const root = require("langchain-token-tracking"); const server = require("langchain-token-tracking/server"); console.log(${names});`]);
    for (const result of [esm, cjs]) {
      expect(result.code, result.stderr).toBe(0);
      // On the Node this suite runs on (npm test runs it again on Node 24).
      expect(JSON.parse(result.stdout)).toEqual({ node: process.version, root: [...ROOT_EXPORTS].sort(), server: [...SERVER_EXPORTS].sort() });
    }
    // The optional peer is not installed, and nothing above needed it.
    expect(installedPackages(consumer)).not.toContain("@azure/cosmos");
  });

  it("tracks usage through the installed library, and the installed bin reads it (--help, summary, export, import)", async () => {
    const day = 86_400_000;
    const script = `
      import { createTokenMonitor } from "langchain-token-tracking";
      const monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ${JSON.stringify(db)}, env: {} });
      const users = ["alice", "bob", "carol"];
      const models = [["openai", "gpt-4o"], ["openai", "gpt-4o-mini"], ["anthropic", "claude-3-5-haiku-20241022"]];
      let costNanos = 0;
      for (let i = 0; i < 30; i++) {
        const [provider, model] = models[i % 3];
        const r = await monitor.trackUsage({ id: "pkg-" + i, userId: users[i % 3], threadId: users[i % 3] + "-thread-" + (i % 2), agentName: i % 2 ? "writer" : "researcher",
          provider, model, inputTokens: 1000 + i * 100, outputTokens: 200 + i, timestamp: new Date(Date.now() - (i % 10) * ${day} - 3600000) });
        costNanos += r.totalCostNanos;
      }
      await monitor.close();
      console.log(JSON.stringify({ requests: 30, costNanos, users, threads: 6 }));`;
    const tracked = await node(["--input-type=module", "-e", script]);
    expect(tracked.code, tracked.stderr).toBe(0);
    seeded = JSON.parse(tracked.stdout);
    expect(seeded.costNanos).toBeGreaterThan(0);

    const version = await run("node", ["-p", "process.version"], { cwd: consumer, env });
    expect(version.stdout.trim(), "the bin's `#!/usr/bin/env node` finds this Node").toBe(process.version);
    const help = await bin(["--help"]);
    expect(help.code, help.stderr).toBe(0);
    for (const command of ["summary", "export", "import", "serve"]) expect(help.stdout).toContain(command);

    const summary = await bin(["summary", "--json"]);
    expect(summary.code, summary.stderr).toBe(0);
    const totals = JSON.parse(summary.stdout);
    expect(totals.totalRequests).toBe(30);
    expect(totals.totalCostNanos).toBe(seeded.costNanos);

    const csv = join(consumer, "usage.csv");
    const exported = await bin(["export", csv]);
    expect(exported.code, exported.stderr).toBe(0);
    const copy = join(consumer, "copy.db");
    const imported = await bin(["--db", copy, "import", csv, "--json"]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ inserted: 30 });
    const again = await bin(["--db", copy, "summary", "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ totalRequests: 30, totalCostNanos: seeded.costNanos });
  });

  it("serves the dashboard from the installed (ESM) bin: chart.js is served, every chart is drawn and every table filled at 1440x900 and 390x844", async () => {
    expect(seeded, "the previous test seeds the database").toBeDefined();
    serve = await startServe(consumer, env);
    const asset = await fetch(`${serve.url}/dashboard/chart.umd.js`);
    expect(asset.status, await asset.clone().text().then((t) => t.slice(0, 200))).toBe(200);
    expect(await asset.text()).toContain("Chart");

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
    mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
    for (const viewport of [{ width: 1440, height: 900 }, { width: 390, height: 844 }]) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("requestfailed", (r) => problems.push(`failed request: ${r.url()} ${r.failure()?.errorText}`));
      page.on("response", (r) => {
        if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
      });
      await page.goto(`${serve.url}/#key=${encodeURIComponent(ADMIN_KEY)}`);
      await page.waitForSelector('body[data-state="ready"], body[data-state="empty"], body[data-state="error"]');
      expect(await page.getAttribute("body", "data-state"), problems.join("\n")).toBe("ready");
      await page.screenshot({ path: join(ROOT, `test-artifacts/published-dashboard-${viewport.width}.png`), fullPage: true });

      const view = await page.evaluate(() => {
        const blank = (id: string) => {
          const canvas = document.getElementById(id);
          const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
          let painted = 0;
          for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
          return { id, width: canvas.width, painted };
        };
        const rows = (id: string) => document.querySelectorAll(`#${id} tbody tr`).length;
        const lastHeaderRight = (id: string) => {
          const cells = document.querySelectorAll(`#${id} thead th`);
          return cells[cells.length - 1].getBoundingClientRect().right;
        };
        const y = Chart.getChart(document.getElementById("model-chart")).scales.y;
        return {
          canvases: ["trend-chart", "model-chart", "agent-chart"].map(blank),
          users: rows("top-users"),
          threads: rows("top-threads"),
          compare: rows("compare"),
          models: rows("models"),
          drill: rows("drill"),
          totalRequests: document.getElementById("total-requests").textContent,
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          tableRight: Math.max(...["top-users", "top-threads", "compare", "models", "drill"].map(lastHeaderRight)),
          // A model name fits its axis when its widest line, the tick and its padding do.
          modelLabelNeeds: y._labelSizes.widest.width + y.options.ticks.padding + y.options.grid.tickLength,
          modelAxisWidth: y.width,
          modelAxisLeft: y.left,
        };
      });
      expect(problems, `at ${viewport.width}px`).toEqual([]);
      for (const canvas of view.canvases) expect(canvas.painted, `${canvas.id} at ${viewport.width}px is blank`).toBeGreaterThan(canvas.width);
      expect(view.totalRequests).toBe(String(seeded.requests));
      expect(view.users).toBe(seeded.users.length);
      expect(view.threads).toBe(seeded.threads);
      // The manager views: this period against the previous one, errors and latency per model, the drill-down's users.
      expect(view.compare).toBe(3);
      expect(view.models).toBe(3);
      expect(view.drill).toBe(seeded.users.length);
      // No sideways scrolling, and the last column (Cost) is on screen.
      expect(view.scrollWidth, `page width at ${viewport.width}px`).toBeLessThanOrEqual(view.innerWidth);
      expect(view.tableRight).toBeLessThanOrEqual(view.innerWidth);
      expect(view.modelAxisLeft).toBeGreaterThanOrEqual(0);
      expect(view.modelLabelNeeds, `model names cut at ${viewport.width}px`).toBeLessThanOrEqual(view.modelAxisWidth);
      await context.close();
    }
  });
});
