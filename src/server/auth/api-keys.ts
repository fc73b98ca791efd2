/**
 * User-scoped API keys, kept in the store's settings (namespace `api-keys`).
 *
 * Only a SHA-256 hash of a key is stored, under a random key id that is also
 * embedded in the key (`tuk_<keyId>_<secret>`), so verifying a request is one
 * settings read and one constant-time comparison, and revoking takes effect at once.
 * The key value itself is shown once, at creation, and never stored or logged.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ValidationError } from "../../errors.js";
import type { UsageStore } from "../../stores/types.js";

export const API_KEY_NAMESPACE = "api-keys";
const KEY_PATTERN = /^tuk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** What is stored per key (no key value). */
interface StoredApiKey {
  keyId: string;
  userId: string;
  hash: string;
  last4: string;
  label: string | null;
  createdAt: string;
}

/** What `keys list` shows. */
export interface ApiKeyInfo {
  keyId: string;
  userId: string;
  /** The key's last four characters, to recognise it without revealing it. */
  last4: string;
  label: string | null;
  createdAt: string;
}

export function hashKey(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/** Compares two secrets in time independent of where they differ (both are hashed first). */
export function secretsEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(hashKey(presented), hashKey(expected));
}

/** Creates a key for `userId`; the returned `key` is the only copy of its value. */
export async function createApiKey(
  store: UsageStore,
  options: { userId: string; label?: string },
): Promise<{ key: string; info: ApiKeyInfo }> {
  const userId = options.userId;
  if (typeof userId !== "string" || userId.trim() === "") throw new ValidationError("user", "must be a non-empty user id");
  if (userId.length > 1024) throw new ValidationError("user", "is longer than 1024 characters");
  const label = options.label?.trim() ? options.label.trim().slice(0, 200) : null;
  const keyId = randomBytes(6).toString("hex");
  const key = `tuk_${keyId}_${randomBytes(32).toString("base64url")}`;
  const stored: StoredApiKey = {
    keyId,
    userId,
    hash: hashKey(key).toString("hex"),
    last4: key.slice(-4),
    label,
    createdAt: new Date().toISOString(),
  };
  await store.putSetting(API_KEY_NAMESPACE, keyId, stored);
  return { key, info: toInfo(stored) };
}

export async function listApiKeys(store: UsageStore): Promise<ApiKeyInfo[]> {
  const entries = await store.listSettings<StoredApiKey>(API_KEY_NAMESPACE);
  return entries.map((e) => toInfo(e.value)).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.keyId.localeCompare(b.keyId));
}

/** Returns false when no key has this id. */
export function revokeApiKey(store: UsageStore, keyId: string): Promise<boolean> {
  if (!/^[0-9a-f]{12}$/.test(keyId)) return Promise.resolve(false);
  return store.deleteSetting(API_KEY_NAMESPACE, keyId);
}

/** The key's owner, or null when the key is malformed, unknown or revoked. */
export async function verifyApiKey(store: UsageStore, key: string): Promise<ApiKeyInfo | null> {
  const match = KEY_PATTERN.exec(key);
  if (!match) return null;
  const stored = await store.getSetting<StoredApiKey>(API_KEY_NAMESPACE, match[1]);
  if (!stored || typeof stored.hash !== "string" || stored.hash.length !== 64) return null;
  return timingSafeEqual(hashKey(key), Buffer.from(stored.hash, "hex")) ? toInfo(stored) : null;
}

export async function hasApiKeys(store: UsageStore): Promise<boolean> {
  return (await store.listSettings(API_KEY_NAMESPACE)).length > 0;
}

function toInfo(s: StoredApiKey): ApiKeyInfo {
  return { keyId: s.keyId, userId: s.userId, last4: s.last4, label: s.label ?? null, createdAt: s.createdAt };
}
