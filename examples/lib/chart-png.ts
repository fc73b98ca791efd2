/**
 * Renders a chart.js chart to a PNG file in headless Chromium (driven by
 * playwright-core, using the system browser at /usr/bin/chromium: no browser
 * download). chart.js is the package's own copy, loaded from disk into a blank
 * page, so nothing is fetched from the network.
 */
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export const CHROMIUM = "/usr/bin/chromium";

/** The chart.js configuration the page builds (types kept loose: it crosses into the browser). */
export interface ChartSpec {
  type: string;
  data: unknown;
  options?: Record<string, unknown>;
}

/** Why no image can be made here, or null when Chromium is available. */
export function chartUnavailableReason(): string | null {
  return existsSync(CHROMIUM) ? null : `Chromium is not installed at ${CHROMIUM}`;
}

export async function renderChartPng(spec: ChartSpec, outPath: string, size = { width: 900, height: 450 }): Promise<void> {
  const { chromium } = await import("playwright-core");
  // chart.js exports no subpath for its UMD bundle: find it beside the package's main file.
  const chartJs = join(dirname(createRequire(import.meta.url).resolve("chart.js")), "chart.umd.js");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: size });
    await page.setContent(`<body style="margin:0;background:#fff"><canvas id="c" width="${size.width}" height="${size.height}"></canvas></body>`);
    await page.addScriptTag({ path: chartJs });
    await page.evaluate((s) => {
      const ChartCtor = (globalThis as unknown as { Chart: new (el: unknown, cfg: unknown) => unknown }).Chart;
      const canvas = (globalThis as unknown as { document: { getElementById(id: string): unknown } }).document.getElementById("c");
      // No animation and no resizing: the first frame is the final one.
      new ChartCtor(canvas, { ...s, options: { ...s.options, animation: false, responsive: false } });
    }, spec);
    mkdirSync(dirname(outPath), { recursive: true });
    await page.locator("#c").screenshot({ path: outPath });
  } finally {
    await browser.close();
  }
}
