/**
 * The settings area (budgets, alert state, API keys) and create-once claims, kept in
 * the reserved partition `__settings__`.
 */
import { randomUUID } from "node:crypto";
import { ValidationError } from "../../errors.js";
import type { OpenedContainer } from "./container-setup.js";
import type { CosmosContext } from "./context.js";
import { SETTINGS_PARTITION, settingDocId } from "./documents.js";
import { settingsQuery } from "./queries.js";
import { statusOf, withRetry } from "./retry.js";
import { validateSettingKey } from "./validation.js";

function settingsPk(ctx: CosmosContext, o: OpenedContainer): string | string[] {
  return ctx.pk(o, SETTINGS_PARTITION, "-");
}

export async function getSetting<T>(ctx: CosmosContext, namespace: string, key: string): Promise<T | null> {
  validateSettingKey(namespace, key);
  const o = await ctx.open();
  const doc = await ctx.readDoc(o.container, settingDocId("setting", namespace, key), settingsPk(ctx, o));
  return doc ? (doc.value as T) : null;
}

export async function putSetting(ctx: CosmosContext, namespace: string, key: string, value: unknown): Promise<void> {
  validateSettingKey(namespace, key);
  if (value === undefined) throw new ValidationError("value", "must be JSON-serializable (not undefined)");
  const o = await ctx.open();
  const doc = {
    id: settingDocId("setting", namespace, key),
    type: "setting",
    user_id: SETTINGS_PARTITION,
    month: "-",
    namespace,
    key,
    value,
    // Settings outlive a container TTL meant for raw records.
    ttl: -1,
  };
  await withRetry("write setting", ctx.policy, () => o.container.items.upsert(doc));
}

export async function deleteSetting(ctx: CosmosContext, namespace: string, key: string): Promise<boolean> {
  validateSettingKey(namespace, key);
  const o = await ctx.open();
  return withRetry("delete setting", ctx.policy, async () => {
    try {
      await o.container.item(settingDocId("setting", namespace, key), settingsPk(ctx, o)).delete();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  });
}

export async function listSettings<T>(ctx: CosmosContext, namespace: string): Promise<Array<{ key: string; value: T }>> {
  if (typeof namespace !== "string" || !namespace) throw new ValidationError("namespace", "must be a non-empty string");
  const o = await ctx.open();
  const docs = await ctx.queryAll(o.container, settingsQuery(SETTINGS_PARTITION, namespace), {
    partitionKey: settingsPk(ctx, o),
  });
  return docs
    .map((d) => ({ key: String(d.key), value: d.value as T }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Create-once. The claim carries a token of this call so that a retry after a
 * lost response (409 on our own document) still answers true, exactly once.
 */
export async function claimOnce(ctx: CosmosContext, namespace: string, key: string): Promise<boolean> {
  validateSettingKey(namespace, key);
  const o = await ctx.open();
  const id = settingDocId("claim", namespace, key);
  const claimant = randomUUID();
  const doc = { id, type: "claim", user_id: SETTINGS_PARTITION, month: "-", namespace, key, claimant, ttl: -1 };
  const created = await withRetry("claim", ctx.policy, async () => {
    try {
      await o.container.items.create(doc);
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw err;
    }
  });
  if (created) return true;
  const existing = await ctx.readDoc(o.container, id, settingsPk(ctx, o));
  return existing?.claimant === claimant;
}
