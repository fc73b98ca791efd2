/**
 * The dashboard's answers to a manager's next questions, in a real browser (Debian
 * chromium through playwright-core) against a real server with a seeded SQLite store:
 * global budget gauges in readable units, this period against the previous one, cost
 * by a charge-back dimension, errors and latency per model, unpriced models, the
 * user -> thread -> calls drill-down with cursor paging, the CSV download, and the
 * page at phone width without sideways scrolling. Screenshots go to test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { createTokenMonitor, type TokenMonitoringService } from "../../src/monitor/token-monitor.js";
import type { UsageRecord } from "../../src/record/types.js";
import { startServer, type RunningServer } from "../../src/server/start-server.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;

const CHROMIUM = "/usr/bin/chromium";
const ADMIN_KEY = "dashboard-views-admin-key-0123456789";
const DAY = 86_400_000;

let monitor: TokenMonitoringService;
let server: RunningServer;
let browser: Browser;
let records: UsageRecord[];
/** Records inside the default 30-day view, and inside the 30 days before it. */
let current: UsageRecord[];
let previous: UsageRecord[];

const sum = (rs: UsageRecord[], f: (r: UsageRecord) => number) => rs.reduce((n, r) => n + f(r), 0);
const usd4 = (nanos: number) => `$${(nanos / 1e9).toFixed(4)}`;
const money = (nanos: number) => `$${(nanos / 1e9).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const change = (a: number, b: number) => `${a > b ? "+" : ""}${(((a - b) / b) * 100).toFixed(1)}%`;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium is not installed at ${CHROMIUM}: run scripts/ensure-chromium.sh (as root) first`);
  monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", env: {} });
  const today = new Date();
  const noon = (daysAgo: number) => new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()) - daysAgo * DAY + 12 * 3_600_000);
  const inputs: Array<Parameters<TokenMonitoringService["trackUsage"]>[0]> = [
    { id: "r1", userId: "alice", threadId: "alice-t1", agentName: "researcher", provider: "openai", model: "gpt-4o", inputTokens: 100_000, outputTokens: 20_000, timestamp: noon(1), latencyMs: 1200, dimensions: { tenant: "acme", feature: "search" } },
    { id: "r2", userId: "alice", threadId: "alice-t1", agentName: "writer", provider: "openai", model: "gpt-4o-mini", inputTokens: 200_000, outputTokens: 50_000, timestamp: noon(2), latencyMs: 800, dimensions: { tenant: "acme", feature: "summaries" } },
    { id: "r3", userId: "bob", threadId: "bob-t1", agentName: "writer", provider: "anthropic", model: "claude-3-5-haiku-20241022", inputTokens: 300_000, outputTokens: 10_000, timestamp: noon(3), latencyMs: 2000, error: true, errorMessage: "overloaded", dimensions: { tenant: "globex" } },
    { id: "r4", userId: "bob", threadId: "bob-t2", agentName: "researcher", provider: "openai", model: "gpt-4o", inputTokens: 400_000, outputTokens: 40_000, timestamp: noon(20), latencyMs: 1500 },
    { id: "r5", userId: "bob", threadId: "bob-t2", agentName: "researcher", provider: "openai", model: "inhouse-llm-v2", inputTokens: 1_000, outputTokens: 500, timestamp: noon(5), latencyMs: 300 },
    // The 30 days before the default view: the "previous" column.
    { id: "r6", userId: "alice", threadId: "alice-t0", agentName: "researcher", provider: "openai", model: "gpt-4o", inputTokens: 150_000, outputTokens: 10_000, timestamp: noon(40), latencyMs: 900 },
  ];
  records = [];
  for (const input of inputs) records.push(await monitor.trackUsage(input));
  await monitor.flush();
  current = records.filter((r) => r.id !== "r6");
  previous = records.filter((r) => r.id === "r6");
  expect(records.find((r) => r.id === "r5")!.priced).toBe(false);
  // The budget guard lives in src/budget/; this stand-in answers fixed statuses: the
  // shared limits without a user, a user's limits with one.
  const budget = {
    setLimit: () => undefined,
    removeLimit: () => true,
    listLimits: () => [],
    getBudgetStatus: (userId?: string) =>
      userId === undefined
        ? [
            { limitId: "global:cost:month", metric: "cost", limit: 10, used: 5.017207788 },
            { limitId: "global:tokens:day", metric: "tokens", limit: 50_000, used: 12_345 },
          ]
        : [{ limitId: "user:*:cost:month", metric: "cost", limit: 1, used: 0.5 }],
  };
  server = await startServer({ monitor, budget, port: 0, host: "127.0.0.1", adminKey: ADMIN_KEY, env: {} });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  mkdirSync("test-artifacts", { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await monitor?.close();
});

async function open(viewport: { width: number; height: number }): Promise<{ page: Page; errors: string[]; failed: string[] }> {
  const context = await browser.newContext({ timezoneId: "UTC", viewport, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  const failed: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("requestfailed", (r) => failed.push(r.url()));
  page.on("response", (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
  await page.goto(`${server.url}/#key=${encodeURIComponent(ADMIN_KEY)}`);
  await page.waitForSelector('body[data-state="ready"], body[data-state="error"]');
  expect(await page.getAttribute("body", "data-state")).toBe("ready");
  return { page, errors, failed };
}

const rows = (page: Page, id: string) =>
  page.$$eval(`#${id} tbody tr`, (trs) => trs.map((tr) => Array.from(tr.children).map((c) => (c as { textContent: string }).textContent)));

function chartLabels(page: Page, id: string): Promise<string[]> {
  return page.evaluate((canvasId) => window.Chart.getChart(document.getElementById(canvasId)).data.labels, id);
}

describe("dashboard views", () => {
  it("answers the next questions at desktop width", async () => {
    const { page, errors, failed } = await open({ width: 1440, height: 900 });

    // 1. Global budget gauges, in dollars and grouped tokens, for an admin without a filter.
    expect(await page.textContent("#budget-scope")).toBe("(shared limits)");
    expect(await page.$$eval("#budgets .gauge", (gs) => gs.map((g) => (g as { textContent: string }).textContent))).toEqual([
      "global:cost:month: $5.02 of $10.00 (50%)",
      "global:tokens:day: 12,345 of 50,000 tokens (25%)",
    ]);

    // 2. This period against the previous one.
    const costNow = sum(current, (r) => r.totalCostNanos);
    const costBefore = sum(previous, (r) => r.totalCostNanos);
    const tokensNow = sum(current, (r) => r.totalTokens);
    const tokensBefore = sum(previous, (r) => r.totalTokens);
    expect(await rows(page, "compare")).toEqual([
      ["Cost", money(costNow), money(costBefore), change(costNow, costBefore)],
      ["Tokens", tokensNow.toLocaleString("en-US"), tokensBefore.toLocaleString("en-US"), change(tokensNow, tokensBefore)],
      ["Calls", String(current.length), String(previous.length), change(current.length, previous.length)],
    ]);

    // 3. A charge-back dimension: the names found in the data, then each value's cost.
    expect(await page.$$eval("#dimension option", (os) => os.map((o) => (o as { value: string }).value))).toEqual(["feature", "tenant"]);
    await page.selectOption("#dimension", "tenant");
    await page.waitForFunction(() => document.getElementById("dimension-value-header").textContent === "tenant");
    const byTenant = new Map<string, number>();
    for (const r of current) byTenant.set(r.dimensions.tenant ?? "(none)", (byTenant.get(r.dimensions.tenant ?? "(none)") ?? 0) + r.totalCostNanos);
    const tenantRows = await rows(page, "by-dimension");
    expect(new Map(tenantRows.map((r) => [r[0], r[3]]))).toEqual(new Map([...byTenant].map(([k, v]) => [k, usd4(v)])));
    expect((await chartLabels(page, "dimension-chart")).sort()).toEqual([...byTenant.keys()].sort());

    // 4. Errors and latency per model (nearest-rank percentiles of the seeded latencies).
    const models = await rows(page, "models");
    const gpt4o = models.find((m) => m[0] === "gpt-4o")!;
    expect(gpt4o).toEqual(["gpt-4o", "2", "0 (0%)", "1,200", "1,500"]);
    expect(models.find((m) => m[0] === "claude-3-5-haiku-20241022")).toEqual(["claude-3-5-haiku-20241022", "1", "1 (100%)", "2,000", "2,000"]);
    expect(models).toHaveLength(4);

    // 5. Unpriced calls with their model.
    expect(await rows(page, "unpriced-models")).toEqual([["inhouse-llm-v2", "openai", "1"]]);
    expect(await page.textContent("#unpriced")).toBe("1");

    // 7b. Model names on the bar chart: written out whole, wrapped at hyphens.
    const ticks: string[][] = await page.evaluate(() =>
      window.Chart.getChart(document.getElementById("model-chart")).scales.y.ticks.map((t: { label: string | string[] }) => ([] as string[]).concat(t.label)),
    );
    expect(ticks.map((lines) => lines.join("")).sort()).toEqual([...new Set(current.map((r) => r.model))].sort());
    for (const lines of ticks) for (const line of lines) expect(line.length).toBeLessThanOrEqual(18);

    await page.screenshot({ path: "test-artifacts/dashboard-views-desktop.png", fullPage: true });

    // 7a. CSV of the view: every call of the range.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-csv")]);
    const csv = readFileSync((await download.path())!, "utf8").trim().split("\n");
    expect(csv).toHaveLength(current.length + 1);
    expect(download.suggestedFilename()).toMatch(/^token-usage-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv$/);

    // 6. Drill-down: users -> alice's threads -> the thread's calls, one per page.
    expect((await rows(page, "drill")).map((r) => r[0])).toEqual(["bob", "alice"]);
    await page.click('#drill tbody tr:has-text("alice")');
    await page.waitForSelector('#drill[data-level="threads"]');
    expect(await rows(page, "drill")).toEqual([["alice-t1", "2", sum(current.filter((r) => r.userId === "alice"), (r) => r.totalTokens).toLocaleString("en-US"), usd4(sum(current.filter((r) => r.userId === "alice"), (r) => r.totalCostNanos))]]);
    await page.evaluate(() => { window.tokenUsageDashboard.drill.pageSize = 1; });
    await page.click('#drill tbody tr:has-text("alice-t1")');
    await page.waitForSelector('#drill[data-level="calls"]');
    expect((await rows(page, "drill")).map((r) => r[0])).toEqual([expect.stringContaining("gpt-4o")]);
    expect(await page.isVisible("#drill-more")).toBe(true);
    await page.click("#drill-more");
    await page.waitForFunction(() => document.querySelectorAll("#drill tbody tr").length === 2);
    const calls = await rows(page, "drill");
    // Newest first: r1 (1 day ago, gpt-4o) then r2 (2 days ago, gpt-4o-mini); no third page.
    expect(calls.map((c) => c[0].split(" ")[2])).toEqual(["gpt-4o", "gpt-4o-mini"]);
    expect(calls.map((c) => c[3])).toEqual(["1,200", "800"]);
    expect(await page.isVisible("#drill-more")).toBe(false);
    expect(await page.textContent("#drill-path")).toBe("All users › alice › alice-t1");

    // The CSV now follows the thread shown.
    const [threadDownload] = await Promise.all([page.waitForEvent("download"), page.click("#download-csv")]);
    expect(readFileSync((await threadDownload.path())!, "utf8").trim().split("\n")).toHaveLength(3);

    await page.screenshot({ path: "test-artifacts/dashboard-views-drilldown.png", fullPage: true });

    // Back up the path.
    await page.click('#drill-path button:has-text("All users")');
    await page.waitForSelector('#drill[data-level="users"]');
    expect((await rows(page, "drill")).map((r) => r[0])).toEqual(["bob", "alice"]);

    // A top user's row opens their threads in the drill-down.
    await page.click('#top-users tbody tr:has-text("bob")');
    await page.waitForFunction(() => document.getElementById("drill-path").textContent === "All users › bob");
    expect((await rows(page, "drill")).map((r) => r[0]).sort()).toEqual(["bob-t1", "bob-t2"]);

    // The user filter: budgets for that user, drill-down starts at their threads.
    await page.fill("#user-filter", "bob");
    await page.click("#apply");
    await page.waitForFunction(() => document.getElementById("budget-scope").textContent === "(user bob)");
    await page.waitForSelector('body[data-state="ready"]');
    expect(await page.textContent("#budgets")).toBe("user:*:cost:month: $0.50 of $1.00 (50%)");
    expect(await page.getAttribute("#drill", "data-level")).toBe("threads");
    expect((await rows(page, "drill")).map((r) => r[0]).sort()).toEqual(["bob-t1", "bob-t2"]);

    expect(errors).toEqual([]);
    expect(failed).toEqual([]);
    await page.context().close();
  });

  it("fits a phone: no sideways scrolling, every view drawn", async () => {
    const { page, errors, failed } = await open({ width: 390, height: 844 });
    const view = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      widest: Math.max(...Array.from(document.querySelectorAll("section") as ArrayLike<{ getBoundingClientRect(): { right: number } }>).map((s) => s.getBoundingClientRect().right)),
      painted: ["trend-chart", "model-chart", "agent-chart", "dimension-chart"].map((id) => {
        const canvas = document.getElementById(id);
        const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) n++;
        return n;
      }),
    }));
    expect(view.scrollWidth).toBeLessThanOrEqual(view.innerWidth);
    expect(view.widest).toBeLessThanOrEqual(view.innerWidth);
    for (const n of view.painted) expect(n).toBeGreaterThan(100);
    for (const id of ["compare", "models", "unpriced-models", "by-dimension", "drill"]) expect((await rows(page, id)).length).toBeGreaterThan(0);
    await page.screenshot({ path: "test-artifacts/dashboard-views-phone.png", fullPage: true });
    expect(errors).toEqual([]);
    expect(failed).toEqual([]);
    await page.context().close();
  });
});
