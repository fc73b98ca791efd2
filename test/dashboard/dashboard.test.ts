/**
 * The dashboard in a real browser (Debian chromium through playwright-core) against
 * a real server on 127.0.0.1 with a seeded SQLite store: the numbers on the page and
 * in the charts are the seeded ones, and changing the date range changes them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { createTokenMonitor, type TokenMonitoringService } from "../../src/monitor/token-monitor.js";
import type { UsageRecord } from "../../src/record/types.js";
import { createApiKey } from "../../src/server/auth/api-keys.js";
import { startServer, type RunningServer } from "../../src/server/start-server.js";

// Browser globals inside page.evaluate callbacks (the project compiles without the DOM lib).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const CHROMIUM = "/usr/bin/chromium";
const ADMIN_KEY = "dashboard-admin-key-0123456789";
const DAY = 86_400_000;

let monitor: TokenMonitoringService;
let server: RunningServer;
let browser: Browser;
let records: UsageRecord[];
let aliceKey: string;

const usd = (nanos: number) => `$${(nanos / 1e9).toFixed(4)}`;
const sum = (rs: UsageRecord[]) => rs.reduce((n, r) => n + r.totalCostNanos, 0);

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`chromium is not installed at ${CHROMIUM}: run scripts/ensure-chromium.sh (as root) first`);
  }
  monitor = createTokenMonitor({ store: "sqlite", sqlitePath: ":memory:", env: {} });
  // Noon UTC of days before today, so the records sit on known calendar days in UTC.
  const today = new Date();
  const noon = (daysAgo: number) => new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()) - daysAgo * DAY + 12 * 3_600_000);
  const inputs = [
    { id: "r1", userId: "alice", threadId: "alice-t1", agentName: "researcher", provider: "openai", model: "gpt-4o", inputTokens: 100_000, outputTokens: 20_000, timestamp: noon(1) },
    { id: "r2", userId: "alice", threadId: "alice-t1", agentName: "writer", provider: "openai", model: "gpt-4o-mini", inputTokens: 200_000, outputTokens: 50_000, timestamp: noon(2) },
    { id: "r3", userId: "bob", threadId: "bob-t1", agentName: "writer", provider: "anthropic", model: "claude-3-5-haiku-20241022", inputTokens: 300_000, outputTokens: 10_000, timestamp: noon(3) },
    { id: "r4", userId: "bob", threadId: "bob-t2", agentName: "researcher", provider: "openai", model: "gpt-4o", inputTokens: 400_000, outputTokens: 40_000, timestamp: noon(20) },
  ];
  records = [];
  for (const input of inputs) records.push(await monitor.trackUsage(input));
  await monitor.flush();
  aliceKey = (await createApiKey(monitor.store, { userId: "alice" })).key;
  // The budget guard lives in src/budget/; this stand-in has its management surface
  // and answers a fixed status, so the test checks how the page draws gauges.
  const budget = {
    setLimit: () => undefined,
    removeLimit: () => true,
    listLimits: () => [],
    getBudgetStatus: (userId: string) => ({
      userId,
      limits: [
        { limitId: "user:*:cost:month", metric: "cost", limit: 1, used: 0.9 },
        { limitId: "global:tokens:day", metric: "tokens", limit: 1000, used: 100 },
      ],
    }),
  };
  server = await startServer({ monitor, budget, port: 0, host: "127.0.0.1", adminKey: ADMIN_KEY, env: {} });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await monitor?.close();
});

async function openDashboard(key: string): Promise<Page> {
  const context = await browser.newContext({ timezoneId: "UTC", viewport: { width: 1280, height: 1100 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.url}/#key=${encodeURIComponent(key)}`);
  await page.waitForSelector('body[data-state="ready"], body[data-state="empty"], body[data-state="error"]');
  expect(errors).toEqual([]);
  return page;
}

/** The data Chart.js holds for a canvas, read from the page. */
function chartData(page: Page, id: string): Promise<{ labels: string[]; values: number[] }> {
  return page.evaluate((canvasId) => {
    const chart = (window as { Chart: { getChart(el: unknown): { data: { labels: string[]; datasets: Array<{ data: number[] }> } } } }).Chart.getChart(
      document.getElementById(canvasId),
    );
    return { labels: chart.data.labels, values: chart.data.datasets[0].data };
  }, id);
}

describe("dashboard", () => {
  it("asks for a key, then shows the seeded totals, charts and tables", async () => {
    const context = await browser.newContext();
    const blank = await context.newPage();
    await blank.goto(`${server.url}/`);
    await blank.waitForSelector('body[data-state="need-key"]');
    expect(await blank.isVisible("#key-panel")).toBe(true);
    await blank.fill("#key-input", "wrong-key");
    await blank.click('#key-form button[type="submit"]');
    await blank.waitForSelector("#key-error:not([hidden])");
    expect(await blank.textContent("#key-error")).toMatch(/not accepted/);
    await context.close();

    const page = await openDashboard(ADMIN_KEY);
    expect(await page.getAttribute("body", "data-state")).toBe("ready");
    expect(await page.textContent("#total-cost")).toBe(usd(sum(records)));
    expect(await page.textContent("#total-requests")).toBe("4");
    expect(await page.textContent("#total-tokens")).toBe(records.reduce((n, r) => n + r.totalTokens, 0).toLocaleString("en-US"));

    const byModel = await chartData(page, "model-chart");
    const expectedModels = new Map<string, number>();
    for (const r of records) expectedModels.set(r.model, (expectedModels.get(r.model) ?? 0) + r.totalCost);
    expect(byModel.labels.sort()).toEqual([...expectedModels.keys()].sort());
    for (const [i, label] of (await chartData(page, "model-chart")).labels.entries()) {
      expect(byModel.values[i]).toBeCloseTo(expectedModels.get(label)!, 9);
    }

    const trend = await chartData(page, "trend-chart");
    expect(trend.labels).toHaveLength(30);
    expect(trend.values.reduce((a, b) => a + b, 0)).toBeCloseTo(sum(records) / 1e9, 9);
    const day = (r: UsageRecord) => r.timestamp.slice(0, 10);
    expect(trend.values[trend.labels.indexOf(day(records[3]))]).toBeCloseTo(records[3].totalCost, 9);

    const agents = await chartData(page, "agent-chart");
    expect(agents.labels.sort()).toEqual(["researcher", "writer"]);

    const users = await page.$$eval("#top-users tbody tr", (rows) => rows.map((r) => Array.from(r.children).map((c: Any) => c.textContent)));
    expect(users.map((u) => u[0])).toEqual(["bob", "alice"]);
    expect(users[0][3]).toBe(usd(sum(records.filter((r) => r.userId === "bob"))));
    const threads = await page.$$eval("#top-threads tbody tr", (rows) => rows.map((r) => r.children[0].textContent));
    expect(threads).toHaveLength(3);

    mkdirSync("test-artifacts", { recursive: true });
    await page.screenshot({ path: "test-artifacts/dashboard.png", fullPage: true });
    expect(existsSync("test-artifacts/dashboard.png")).toBe(true);

    // Last 7 days: the record from 20 days ago drops out.
    await page.click('button[data-days="7"]');
    await page.waitForFunction(() => document.getElementById("total-requests")!.textContent === "3");
    const recent = records.filter((r) => r.id !== "r4");
    expect(await page.textContent("#total-cost")).toBe(usd(sum(recent)));
    const recentTrend = await chartData(page, "trend-chart");
    expect(recentTrend.labels).toHaveLength(7);
    expect(recentTrend.values.reduce((a, b) => a + b, 0)).toBeCloseTo(sum(recent) / 1e9, 9);

    // A custom range holding only the day of r3.
    await page.fill("#start", day(records[2]));
    await page.fill("#end", day(records[2]));
    await page.click("#apply");
    await page.waitForFunction(() => document.getElementById("total-requests")!.textContent === "1");
    expect(await page.textContent("#total-cost")).toBe(usd(records[2].totalCostNanos));

    // A range with nothing in it shows the empty state.
    await page.fill("#start", "2001-01-01");
    await page.fill("#end", "2001-01-31");
    await page.click("#apply");
    await page.waitForSelector('body[data-state="empty"]');
    expect(await page.isVisible("#empty")).toBe(true);

    // The user filter narrows everything to one user.
    await page.click('button[data-days="30"]');
    await page.fill("#user-filter", "alice");
    await page.click("#apply");
    await page.waitForFunction(() => document.getElementById("total-requests")!.textContent === "2");
    expect(await page.textContent("#total-cost")).toBe(usd(sum(records.filter((r) => r.userId === "alice"))));
    await page.context().close();
  });

  it("with a user key shows only that user's data and no top-users table", async () => {
    const page = await openDashboard(aliceKey);
    const alice = records.filter((r) => r.userId === "alice");
    expect(await page.textContent("#total-cost")).toBe(usd(sum(alice)));
    expect(await page.textContent("#who")).toBe("user alice");
    expect(await page.isDisabled("#user-filter")).toBe(true);
    expect(await page.isVisible("#top-users-section")).toBe(false);
    const threads = await page.$$eval("#top-threads tbody tr", (rows) => rows.map((r) => r.children[0].textContent));
    expect(threads).toEqual(["alice-t1"]);
    // The drill-down starts at the user's own threads, with no "All users" step.
    expect(await page.getAttribute("#drill", "data-level")).toBe("threads");
    expect(await page.textContent("#drill-path")).toBe("alice");
    expect((await page.$$eval("#drill tbody tr", (rows) => rows.map((r) => r.children[0].textContent)))).toEqual(["alice-t1"]);
    expect((await chartData(page, "model-chart")).labels.sort()).toEqual(["gpt-4o", "gpt-4o-mini"]);
    expect(await page.isVisible("#budget-section")).toBe(true);
    const gauges = await page.$$eval("#budgets .gauge", (gs) => gs.map((g) => ({ text: g.textContent, width: (g.querySelector(".fill") as Any).style.width, cls: g.querySelector(".fill")!.className })));
    expect(gauges).toEqual([
      { text: "user:*:cost:month: $0.90 of $1.00 (90%)", width: "90%", cls: "fill warn" },
      { text: "global:tokens:day: 100 of 1,000 tokens (10%)", width: "10%", cls: "fill" },
    ]);
    await page.context().close();
  });
});
