/** Human output: plain tables (no colours, so they survive pipes and logs) and number formats. */
import Table from "cli-table3";

export function table(head: string[], rows: Array<Array<string | number>>, numericFrom = 1): string {
  const t = new Table({
    head,
    style: { head: [], border: [] },
    colAligns: head.map((_, i) => (i >= numericFrom ? "right" : "left")),
  });
  for (const row of rows) t.push(row.map(String));
  return t.toString();
}

export function usd(value: number): string {
  return `$${value.toFixed(value !== 0 && Math.abs(value) < 0.01 ? 6 : 4)}`;
}

export function count(value: number): string {
  return value.toLocaleString("en-US");
}
