/**
 * The hand-written Prometheus exposition, read back by a Prometheus text parser: label
 * values with quotes, backslashes and newlines (model and agent names are user input)
 * survive the round trip, and names the format does not allow are refused.
 */
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { renderExposition } from "../../src/server/metrics/exposition.js";
import { usageFamilies } from "../../src/server/metrics/usage-families.js";
import { emptyTotals } from "../../src/stores/types.js";

describe("Prometheus exposition", () => {
  it("escapes hostile label values so a parser reads back exactly what was stored", () => {
    const hostile = ['say "hi"', "back\\slash", "two\nlines", "} 1\nfake_metric 2", "ünïcødé"];
    const rows = hostile.map((agent, i) => ({
      ...emptyTotals(),
      key: { provider: "openai", model: `model-${i}`, agent, operation: "chat" },
      requests: i + 1,
      inputTokens: 1000 * (i + 1),
      costNanos: 1_500_000_000 * (i + 1),
    }));
    const text = renderExposition(usageFamilies(rows));
    const families = parsePrometheusTextFormat(text);
    expect(families.map((f) => f.name)).not.toContain("fake_metric");
    const requests = families.find((f) => f.name === "token_usage_requests_total")!;
    expect(requests.type).toBe("COUNTER");
    expect(requests.metrics.map((m) => m.labels!.agent)).toEqual(hostile);
    expect(requests.metrics.map((m) => Number(m.value))).toEqual([1, 2, 3, 4, 5]);
    const cost = families.find((f) => f.name === "token_usage_cost_usd_total")!;
    expect(cost.metrics.map((m) => Number(m.value))).toEqual([1.5, 3, 4.5, 6, 7.5]);
    const tokens = families.find((f) => f.name === "token_usage_tokens_total")!;
    expect(tokens.metrics.filter((m) => m.labels!.type === "input").map((m) => Number(m.value))).toEqual([1000, 2000, 3000, 4000, 5000]);
    expect(tokens.metrics).toHaveLength(5 * 5); // five token types per row
  });

  it("a null group key is an empty label; an empty store is typed families with no samples", () => {
    const text = renderExposition(usageFamilies([{ ...emptyTotals(), key: { provider: "openai", model: "m", agent: null, operation: "chat" }, requests: 1 }]));
    const requests = parsePrometheusTextFormat(text).find((f) => f.name === "token_usage_requests_total")!;
    expect(requests.metrics[0].labels!.agent).toBe("");
    expect(renderExposition(usageFamilies([]))).toMatch(/^# HELP token_usage_requests_total .*\n# TYPE token_usage_requests_total counter\n/);
  });

  it("refuses metric and label names the format does not allow", () => {
    expect(() => renderExposition([{ name: "bad-name", help: "", type: "gauge", samples: [] }])).toThrow(/invalid metric name/);
    expect(() => renderExposition([{ name: "ok", help: "", type: "gauge", samples: [{ labels: { "bad-label": "x" }, value: 1 }] }])).toThrow(/invalid label name/);
    expect(() => renderExposition([{ name: "ok", help: "", type: "gauge", samples: [{ labels: { __reserved: "x" }, value: 1 }] }])).toThrow(/invalid label name/);
  });
});
