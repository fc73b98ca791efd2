/**
 * Opening a SQLite file for the store, and telling apart the failures that retrying
 * soon can heal (a lock, a full disk) from those it cannot (not a database, read-only,
 * a schema newer than this package): the writer retries both, the second kind slowly
 * and reported once. Also what a file's identity is, so a store notices when the path
 * it opened names another file (deleted and recreated, or replaced).
 */
import Database from "better-sqlite3";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { StoreError, StoreUnusableError } from "../../errors.js";
import { MIGRATIONS } from "./schema.js";

/** The schema version this package writes (`PRAGMA user_version`). */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Codes that say the file cannot be used as it is: SQLite's own (not a database,
 * read-only, cannot open, corrupt, denied) and the file system's (permission, read-only
 * file system, a path through a file).
 */
const UNUSABLE = /^(SQLITE_NOTADB|SQLITE_READONLY\w*|SQLITE_CANTOPEN\w*|SQLITE_CORRUPT\w*|SQLITE_PERM|SQLITE_AUTH|EACCES|EPERM|EROFS|ENOTDIR|EISDIR)$/;

/** A StoreError naming the file and the real error; a StoreUnusableError when retrying soon cannot help. */
export function sqliteFailure(path: string, action: string, cause: unknown): StoreError {
  const code = (cause as { code?: unknown } | null)?.code;
  const detail = `${(cause as Error)?.message ?? String(cause)}${typeof code === "string" ? ` (${code})` : ""}`;
  const message = `cannot ${action} the SQLite database ${path}: ${detail}`;
  return typeof code === "string" && UNUSABLE.test(code)
    ? new StoreUnusableError(path, message, { cause })
    : new StoreError(message, { cause });
}

export interface FileIdentity {
  dev: number;
  ino: number;
}

/** Device and inode of what `path` names now; null when nothing does. */
export function fileIdentity(path: string): FileIdentity | null {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? { dev: st.dev, ino: st.ino } : null;
}

export function sameFile(a: FileIdentity | null, b: FileIdentity | null): boolean {
  return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
}

/**
 * Opens (creating when missing) and migrates the database. Throws a StoreError naming
 * the file, never a bare driver error; the half-opened handle is closed.
 */
export function openDatabase(path: string, busyTimeoutMs: number): Database.Database {
  if (path !== ":memory:") {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (cause) {
      throw sqliteFailure(path, "create the folder of", mkdirCause(dirname(path), cause));
    }
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    // Short: a wait blocks the thread, and the writer retries a busy store by itself.
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // Before anything that writes: a file from a newer version must not be touched.
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new StoreUnusableError(
        path,
        `the SQLite database ${path} has schema version ${version}, newer than the ${SCHEMA_VERSION} this version of ` +
          `langchain-token-tracking writes: upgrade the package, or point TOKEN_USAGE_DB at another file`,
      );
    }
    // 4 KiB pages for a new file (an existing one keeps its own). A commit writes every page it
    // touched whole to the WAL, and a replica's small flushes touch a page per user in every
    // per-user table and index: with 10,000 users and flushes of 10 records, 16 KiB pages cost
    // 45 µs more CPU per call (180 against 135). Bulk imports pay the other way: a million
    // records in batches of 5,000 ingest 7% slower (37,100 against 40,000 records/s).
    db.pragma("page_size = 4096");
    if (path !== ":memory:") db.pragma("journal_mode = WAL");
    // Up to 64 MiB of page cache (the default is 2 MiB): index and rollup inserts land at random
    // keys, and every miss is a read from the OS.
    db.pragma("cache_size = -65536");
    // NORMAL is durable across process crashes in WAL mode; only an OS crash can lose the last commits.
    db.pragma("synchronous = NORMAL");
    // Checkpoint every 40,000 pages (160 MiB of 4 KiB pages) rather than SQLite's 1,000: a page
    // that several batches touch is copied back to the database once (measured 1.6x ingest
    // at a million records), and the WAL file is cut back to 64 MiB after each checkpoint.
    db.pragma("wal_autocheckpoint = 40000");
    db.pragma("journal_size_limit = 67108864");
    migrate(db, version);
    return db;
  } catch (cause) {
    try {
      db?.close();
    } catch {
      // The open failure is the error worth reporting.
    }
    throw cause instanceof StoreError ? cause : sqliteFailure(path, "open", cause);
  }
}

/**
 * A recursive mkdir reports ENOENT when it cannot create a folder in a parent it may not
 * write (a read-only file system): the deepest missing folder, created alone, gives the
 * real reason (EROFS, EACCES), which says retrying soon will not help.
 */
function mkdirCause(dir: string, error: unknown): unknown {
  if ((error as { code?: unknown })?.code !== "ENOENT") return error;
  let missing = dir;
  while (!existsSync(dirname(missing)) && dirname(missing) !== missing) missing = dirname(missing);
  try {
    mkdirSync(missing);
  } catch (real) {
    return real;
  }
  return error;
}

function migrate(db: Database.Database, from: number): void {
  for (let v = from; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      // Another process may have migrated meanwhile: read the version inside the lock.
      if ((db.pragma("user_version", { simple: true }) as number) > v) return;
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
