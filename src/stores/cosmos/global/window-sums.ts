/**
 * The per-entity totals of a new leaderboard window (leaders.ts builds it under the
 * maintenance lock, after a drain). When a registered window of the same entity overlaps
 * the new span (yesterday's "last 30 days" for today's), the new one is derived from it:
 * its documents (one per entity active in that span), plus the entity-day documents of
 * the days gained, minus those of the days lost; a one-day shift reads two days of
 * entity-days instead of thirty. Exact, because a registered window is kept exact by
 * every commit and nothing commits while the lock is held. Otherwise the span's
 * entity-day documents are summed.
 */
import type { SqlQuerySpec } from "@azure/cosmos";
import { addTotals, emptyTotals, type DaySpan, type LeaderEntity } from "../../types.js";
import type { OpenedContainer } from "../container-setup.js";
import type { CosmosContext } from "../context.js";
import { globalPk } from "./batch.js";
import { negated, windowDocId, windowKey, type EntityDoc } from "./leader-docs.js";
import { GLOBAL_PARTITION, THREAD_DAY_TYPE, USER_DAY_TYPE, WINDOW_TYPE, type LeaderWindow } from "./layout.js";

const DAY_MS = 86_400_000;
const days = (s: DaySpan) => (Date.parse(s.end) - Date.parse(s.start)) / DAY_MS;

/** The registered window to derive `span`'s from: same entity, most days in common; none when a build reads less. */
export function neighbourOf(windows: LeaderWindow[], entity: LeaderEntity, span: DaySpan): LeaderWindow | undefined {
  let best: { w: LeaderWindow; common: number } | undefined;
  for (const w of windows) {
    if (w.entity !== entity) continue;
    const common = (Math.min(Date.parse(w.end), Date.parse(span.end)) - Math.max(Date.parse(w.start), Date.parse(span.start))) / DAY_MS;
    // Days to add or remove must be fewer than the days a build would read.
    const changed = days(span) - common + (days(w) - common);
    if (common > 0 && changed < days(span) && (!best || common > best.common)) best = { w, common };
  }
  return best?.w;
}

/** Ranges of whole days in `a` and not in `b` (at most two). */
function minus(a: DaySpan, b: DaySpan): DaySpan[] {
  const out: DaySpan[] = [];
  if (a.start < b.start) out.push({ start: a.start, end: b.start < a.end ? b.start : a.end });
  if (b.end < a.end) out.push({ start: b.end > a.start ? b.end : a.start, end: a.end });
  return out.filter((r) => r.start < r.end);
}

export async function windowSums(ctx: CosmosContext, o: OpenedContainer, epoch: number, entity: LeaderEntity, span: DaySpan, win: string, windows: LeaderWindow[]): Promise<Map<string, EntityDoc>> {
  const scope = { partitionKey: globalPk(ctx, o) };
  const sums = new Map<string, EntityDoc>();
  const add = (d: EntityDoc, sign: 1 | -1) => {
    const id = windowDocId(win, d.user, d.thread);
    const t = sign === 1 ? d.t : negated(d.t);
    const cur = sums.get(id);
    if (cur) addTotals(cur.t, t);
    else sums.set(id, { ...d, id, type: WINDOW_TYPE, win, day: undefined, t: addTotals(emptyTotals(), t), _etag: undefined });
  };
  const entityDays = (range: DaySpan) => ctx.queryAll<EntityDoc>(o.container, spanDaysQuery(epoch, entity, range), scope);
  const from = neighbourOf(windows, entity, span);
  if (!from) {
    for (const d of await entityDays(span)) add(d, 1);
    return sums;
  }
  const [base, gained, lost] = await Promise.all([
    ctx.queryAll<EntityDoc>(o.container, windowDocsQuery(windowKey(epoch, from)), scope),
    Promise.all(minus(span, from).map(entityDays)),
    Promise.all(minus(from, span).map(entityDays)),
  ]);
  for (const d of base) add(d, 1);
  for (const d of gained.flat()) add(d, 1);
  for (const d of lost.flat()) add(d, -1);
  for (const [id, d] of sums) if (d.t.requests <= 0) sums.delete(id);
  ctx.metrics.windowsDerived++;
  return sums;
}

function windowDocsQuery(win: string): SqlQuerySpec {
  return {
    query: "SELECT * FROM c WHERE c.user_id = @partition AND c.type = @type AND c.win = @win",
    parameters: [
      { name: "@partition", value: GLOBAL_PARTITION },
      { name: "@type", value: WINDOW_TYPE },
      { name: "@win", value: win },
    ],
  };
}

function spanDaysQuery(epoch: number, entity: LeaderEntity, span: DaySpan): SqlQuerySpec {
  return {
    query: "SELECT * FROM c WHERE c.user_id = @partition AND c.type = @type AND c.epoch = @epoch AND c.day >= @start AND c.day < @end",
    parameters: [
      { name: "@partition", value: GLOBAL_PARTITION },
      { name: "@type", value: entity === "user" ? USER_DAY_TYPE : THREAD_DAY_TYPE },
      { name: "@epoch", value: epoch },
      { name: "@start", value: span.start },
      { name: "@end", value: span.end },
    ],
  };
}
