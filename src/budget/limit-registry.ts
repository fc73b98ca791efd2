/**
 * The limits in force: those from the environment or a file (static), overlaid by
 * those kept in the store's settings (set through code, the REST API or the CLI;
 * a tombstone masks a static one). Stored limits are re-read every `refreshMs`
 * (2 s by default), so a change made by any process reaches every running process
 * within that time plus one store read, without a restart.
 */
import { ValidationError } from "../errors.js";
import type { UsageStore } from "../stores/types.js";
import type { Logger } from "../writer/buffered-writer.js";
import { applicableLimits, normalizeLimit, type BudgetLimit, type BudgetLimitInput, type BudgetMode } from "./limits.js";

interface Tombstone {
  removed: true;
}

export interface LimitRegistryOptions {
  store: UsageStore;
  namespace: string;
  defaultMode: BudgetMode;
  logger: Logger;
  limits: Array<BudgetLimitInput | BudgetLimit>;
  /** @default 2000 */
  refreshMs: number;
  /** Called with the ids whose limit changed (their running totals start afresh). */
  onChange: (ids: string[]) => void;
}

export class LimitRegistry {
  private readonly staticLimits = new Map<string, BudgetLimit>();
  private stored = new Map<string, BudgetLimit | Tombstone>();
  limits: BudgetLimit[] = [];
  generation = 0;
  loaded = false;
  private loading: Promise<void> | null = null;
  private loadedAt = 0;
  private readonly applicable = new Map<string, { generation: number; limits: BudgetLimit[] }>();

  constructor(private readonly o: LimitRegistryOptions) {
    o.limits.forEach((l, i) => {
      const limit = normalizeLimit(l, `limits[${i}]`, { mode: o.defaultMode });
      this.staticLimits.set(limit.id, limit);
    });
    this.merge();
  }

  /** The limit as it will be stored: the configured mode when it names none. */
  normalize(input: unknown): BudgetLimit {
    return normalizeLimit(input, "", { mode: this.o.defaultMode });
  }

  async set(limit: BudgetLimit): Promise<void> {
    await this.ensureLoaded();
    await this.o.store.putSetting(this.o.namespace, limit.id, limit);
    this.stored.set(limit.id, limit);
    this.merge();
    this.o.onChange([limit.id]);
  }

  async remove(id: string): Promise<boolean> {
    if (typeof id !== "string" || id === "") throw new ValidationError("id", "must be a non-empty string");
    await this.ensureLoaded();
    const existed = this.limits.some((l) => l.id === id);
    if (this.staticLimits.has(id)) {
      await this.o.store.putSetting(this.o.namespace, id, { removed: true } satisfies Tombstone);
      this.stored.set(id, { removed: true });
    } else {
      await this.o.store.deleteSetting(this.o.namespace, id);
      this.stored.delete(id);
    }
    this.merge();
    this.o.onChange([id]);
    return existed;
  }

  /** Loads once, then again whenever the last load is older than `refreshMs` (the caller does not wait for that re-read). */
  ensureLoaded(now = Date.now()): Promise<void> {
    if (this.loaded && now - this.loadedAt >= this.o.refreshMs && !this.loading) void this.reload(now).catch(() => undefined);
    if (this.loaded) return Promise.resolve();
    return this.loading ?? this.reload(now);
  }

  reload(now = Date.now()): Promise<void> {
    this.loadedAt = now;
    const run = this.o.store.listSettings<unknown>(this.o.namespace).then(
      (rows) => {
        this.apply(rows);
        this.loaded = true;
      },
      (error) => {
        this.o.logger.warn(`[token-tracking] budget limits could not be read: ${(error as Error).message}`);
        if (!this.loaded) throw error;
      },
    );
    this.loading = run.finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  /** The limits that may apply to a call of `userId` (scope-level filter; subjects are resolved per limit). */
  forUser(userId: string | undefined, provider: string | undefined, allProviders: boolean): BudgetLimit[] {
    const key = `${userId ?? "\u0001"}\u0000${provider ?? ""}\u0000${allProviders}`;
    const cached = this.applicable.get(key);
    if (cached && cached.generation === this.generation) return cached.limits;
    const limits =
      userId === undefined
        ? applicableLimits(this.limits, "\u0000", provider, allProviders).filter((l) => !l.scope.startsWith("user:"))
        : applicableLimits(this.limits, userId, provider, allProviders);
    // Bounded: a cache of recent users, not a record of every user ever seen.
    if (this.applicable.size > 10_000) this.applicable.clear();
    this.applicable.set(key, { generation: this.generation, limits });
    return limits;
  }

  private apply(rows: Array<{ key: string; value: unknown }>): void {
    const stored = new Map<string, BudgetLimit | Tombstone>();
    for (const { key, value } of rows) {
      if ((value as Tombstone)?.removed === true) stored.set(key, { removed: true });
      else {
        try {
          const limit = normalizeLimit(value, `${this.o.namespace}.${key}`, { mode: this.o.defaultMode });
          const previous = this.stored.get(key);
          // An unchanged limit keeps its object, so its running totals and reservations stay.
          stored.set(key, previous && JSON.stringify(previous) === JSON.stringify(limit) ? previous : limit);
        } catch (error) {
          this.o.logger.warn(`[token-tracking] ignoring stored budget limit: ${(error as Error).message}`);
        }
      }
    }
    const changed = [...new Set([...stored.keys(), ...this.stored.keys()])].filter(
      (id) => JSON.stringify(stored.get(id)) !== JSON.stringify(this.stored.get(id)),
    );
    this.stored = stored;
    if (changed.length > 0 || !this.loaded) this.merge();
    if (changed.length > 0) this.o.onChange(changed);
  }

  private merge(): void {
    const byId = new Map(this.staticLimits);
    for (const [id, v] of this.stored) {
      if ("removed" in v) byId.delete(id);
      else byId.set(id, v);
    }
    this.limits = [...byId.values()];
    this.generation++;
  }
}
