/**
 * Shared budget counters in SQLite: each report is read, applied and written in one
 * IMMEDIATE transaction, so processes sharing the file serialize on the write lock
 * and never grant the same room twice. Counters of windows that ended are deleted
 * a few at a time by later reports, so the table holds only live windows.
 */
import type Database from "better-sqlite3";
import { applyCounterUpdate, stateOf, type CounterDoc } from "../budget-counter-math.js";
import type { BudgetCounterState, BudgetCounterUpdate } from "../types.js";

/** Counters are kept this long past their window, for calls that settle late. */
const GRACE_MS = 10 * 60_000;
const DELETE_PER_REPORT = 500;

export class SqliteBudgetCounters {
  private readonly select: Database.Statement;
  private readonly upsert: Database.Statement;
  private readonly sweep: Database.Statement;
  private readonly tx: (updates: BudgetCounterUpdate[]) => BudgetCounterState[];

  constructor(db: Database.Database) {
    this.select = db.prepare("SELECT doc FROM budget_counters WHERE key = ?").pluck();
    this.upsert = db.prepare(
      "INSERT INTO budget_counters VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at, doc = excluded.doc",
    );
    this.sweep = db.prepare(
      `DELETE FROM budget_counters WHERE key IN (SELECT key FROM budget_counters WHERE expires_at < ? LIMIT ${DELETE_PER_REPORT})`,
    );
    const tx = db.transaction((updates: BudgetCounterUpdate[]) => {
      const out = updates.map((u) => {
        const raw = this.select.get(u.key) as string | undefined;
        const { doc, state } = applyCounterUpdate(raw ? (JSON.parse(raw) as CounterDoc) : null, u);
        this.upsert.run(u.key, u.partition, doc.expiresAt, JSON.stringify(doc));
        return state;
      });
      if (updates.length > 0) this.sweep.run(updates[0].now - GRACE_MS);
      return out;
    });
    // IMMEDIATE: the read and the write of a counter happen under one write lock.
    this.tx = (updates) => tx.immediate(updates);
  }

  update(updates: BudgetCounterUpdate[]): BudgetCounterState[] {
    return updates.length === 0 ? [] : this.tx(updates);
  }

  read(keys: Array<{ key: string }>, now: number): Array<BudgetCounterState | null> {
    return keys.map(({ key }) => {
      const raw = this.select.get(key) as string | undefined;
      return raw ? stateOf(JSON.parse(raw) as CounterDoc, now) : null;
    });
  }
}
