/** Settings (JSON values by namespace and key) and one-time claims in the SQLite file. */
import type Database from "better-sqlite3";

export function get<T>(db: Database.Database, namespace: string, key: string): T | null {
  const row = db.prepare("SELECT value FROM settings WHERE namespace = ? AND key = ?").get(namespace, key) as { value: string } | undefined;
  return row ? (JSON.parse(row.value) as T) : null;
}

export function put(db: Database.Database, namespace: string, key: string, value: unknown): void {
  db.prepare("INSERT INTO settings VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value").run(
    namespace,
    key,
    JSON.stringify(value),
  );
}

export function remove(db: Database.Database, namespace: string, key: string): boolean {
  return db.prepare("DELETE FROM settings WHERE namespace = ? AND key = ?").run(namespace, key).changes > 0;
}

export function list<T>(db: Database.Database, namespace: string): Array<{ key: string; value: T }> {
  const rows = db.prepare("SELECT key, value FROM settings WHERE namespace = ? ORDER BY key").all(namespace) as Array<{ key: string; value: string }>;
  return rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) as T }));
}

/** True for the one caller that claims `key` first (across processes sharing the file). */
export function claimOnce(db: Database.Database, namespace: string, key: string): boolean {
  return db.prepare("INSERT INTO claims VALUES (?, ?, ?) ON CONFLICT DO NOTHING").run(namespace, key, new Date().toISOString()).changes === 1;
}
