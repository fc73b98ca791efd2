/**
 * The Prometheus text exposition format (version 0.0.4) for counters and gauges whose
 * values are computed at scrape time. Written here rather than with a client library:
 * those libraries model in-process instruments that are incremented, while these values
 * are totals read from the store, and the format for them is a few rules: one HELP and
 * TYPE line per family, escaped label values, Go-style float text.
 */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total`. */
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function renderExposition(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`invalid metric name ${JSON.stringify(f.name)}`);
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(`${f.name}${labelText(s.labels)} ${numberText(s.value)}`);
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries
    .map(([k, v]) => {
      if (!LABEL.test(k) || k.startsWith("__")) throw new Error(`invalid label name ${JSON.stringify(k)}`);
      return `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
    })
    .join(",")}}`;
}

function numberText(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}
