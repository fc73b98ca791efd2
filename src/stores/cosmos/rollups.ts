/**
 * The rollup shape aggregates are summed from: one document per (user, UTC hour)
 * holding the totals of every (provider, model, agent, operation) group. Legacy
 * documents (`~r<hour>`, written by earlier versions, recomputed from raw records)
 * have this shape on disk; the incremental hour and day documents (rollup-docs.ts)
 * are converted to it when read. `rollupGroups` builds the legacy shape (tests of
 * older containers use it).
 */
import type { UsageRecord } from "../../record/types.js";
import {
  addTotals,
  emptyTotals,
  recordTotals,
  type AggregateQuery,
  type AggregateRow,
  type GroupKey,
  type UsageTotals,
} from "../types.js";

export interface RollupGroup {
  provider: string;
  model: string;
  agent: string | null;
  operation: string;
  totals: UsageTotals;
}

export interface RollupDocument {
  id: string;
  type: "rollup";
  user_id: string;
  hour: string;
  day: string;
  month: string;
  groups: RollupGroup[];
}

/** Group keys a rollup can answer (it keeps no thread and no dimensions). */
const ROLLUP_KEYS = new Set<GroupKey>(["user", "provider", "model", "agent", "operation", "hour", "day"]);
const HOUR_ALIGNED = /^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/;

/** Whether an aggregate can be read from rollups without changing its answer. */
export function rollupsCanAnswer(q: AggregateQuery): boolean {
  const f = q.filter;
  return (
    f.threadId === undefined &&
    (f.start === undefined || HOUR_ALIGNED.test(f.start)) &&
    (f.end === undefined || HOUR_ALIGNED.test(f.end)) &&
    q.groupBy.every((k) => ROLLUP_KEYS.has(k))
  );
}

export function rollupGroups(records: Iterable<UsageRecord>): RollupGroup[] {
  const groups = new Map<string, RollupGroup>();
  for (const r of records) {
    const mapKey = JSON.stringify([r.provider, r.model, r.agentName, r.operationType]);
    let g = groups.get(mapKey);
    if (!g) {
      g = { provider: r.provider, model: r.model, agent: r.agentName, operation: r.operationType, totals: emptyTotals() };
      groups.set(mapKey, g);
    }
    addTotals(g.totals, recordTotals(r));
  }
  return [...groups.values()];
}

/** Sums rollup documents the way `aggregateInMemory` sums the records behind them. */
export function aggregateRollups(docs: Iterable<RollupDocument>, q: AggregateQuery): AggregateRow[] {
  const f = q.filter;
  const startHour = f.start?.slice(0, 13);
  const endHour = f.end?.slice(0, 13);
  const rows = new Map<string, AggregateRow>();
  for (const doc of docs) {
    if (f.userId !== undefined && doc.user_id !== f.userId) continue;
    if (startHour !== undefined && doc.hour < startHour) continue;
    if (endHour !== undefined && doc.hour >= endHour) continue;
    for (const g of doc.groups) {
      if (f.provider !== undefined && g.provider !== f.provider) continue;
      if (f.model !== undefined && g.model !== f.model) continue;
      if (f.agentName !== undefined && g.agent !== f.agentName) continue;
      const key: Record<string, string | null> = {};
      for (const k of q.groupBy) key[k] = rollupValue(doc, g, k);
      const mapKey = JSON.stringify(q.groupBy.map((k) => key[k]));
      let row = rows.get(mapKey);
      if (!row) {
        row = { key, ...emptyTotals() };
        rows.set(mapKey, row);
      }
      addTotals(row, g.totals);
    }
  }
  return [...rows.values()];
}

function rollupValue(doc: RollupDocument, g: RollupGroup, k: GroupKey): string | null {
  switch (k) {
    case "user":
      return doc.user_id;
    case "provider":
      return g.provider;
    case "model":
      return g.model;
    case "agent":
      return g.agent;
    case "operation":
      return g.operation;
    case "hour":
      return doc.hour;
    case "day":
      return doc.day;
    default:
      throw new Error(`rollups cannot group by ${k}`);
  }
}
