/**
 * The spill journal: where records go when the store has been unreachable long
 * enough that the memory buffer is full. One JSON-lines file per process (so live
 * processes never write the same file); a process replays its own files and those
 * of processes that are gone, claiming each by an atomic rename before reading it.
 * Replays are safe to repeat because stores are idempotent by record id.
 *
 * An append is all or nothing: on a failed write (a full disk) the file is cut back to
 * its size before the append, so no partial line is left for the next append to glue a
 * good record onto. This process's journal is bounded by `maxBytes`; past it an append
 * fails with JournalFullError and the writer applies its memory policy.
 */
import { closeSync, createReadStream, fstatSync, ftruncateSync, mkdirSync, openSync, writeSync } from "node:fs";
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { JournalFullError } from "../errors.js";
import type { UsageRecord } from "../record/types.js";

const PREFIX = "spill-";

/** @default 256 MiB: about 250,000 records of ~1 KB. */
export const DEFAULT_MAX_JOURNAL_BYTES = 256 * 1024 * 1024;

export class SpillJournal {
  /** Appended to in the background, one append at a time, through one open handle. */
  private file: string;
  /** Only `appendSync` writes here, so a synchronous append never races an asynchronous one on one file. */
  private readonly finalFile: string;
  private readonly stamp: string;
  private rotations = 0;
  private spilled = 0;
  /** Bytes this process has journaled and not yet replayed. */
  private bytes = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** Kept open between appends: one write per spill, not five file-system round trips. */
  private handle: FileHandle | null = null;
  /** Size of `file` as far as whole lines go. */
  private size = 0;

  constructor(
    private readonly dir: string,
    private readonly maxBytes = DEFAULT_MAX_JOURNAL_BYTES,
  ) {
    this.stamp = `${process.pid}-${Date.now().toString(36)}`;
    this.file = join(dir, `${PREFIX}${this.stamp}.jsonl`);
    this.finalFile = join(dir, `${PREFIX}${this.stamp}-final.jsonl`);
  }

  /** Records currently written by this process and not yet replayed. */
  get pending(): number {
    return this.spilled;
  }

  /** Appends whole lines or nothing; rejects with JournalFullError past the size bound. */
  append(records: UsageRecord[]): Promise<void> {
    const run = this.queue.then(() => this.appendNow(records));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendNow(records: UsageRecord[]): Promise<void> {
    if (records.length === 0) return;
    const data = Buffer.from(records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    if (this.bytes + data.length > this.maxBytes) throw new JournalFullError(this.file, this.maxBytes);
    if (!this.handle) {
      await mkdir(this.dir, { recursive: true });
      this.handle = await open(this.file, "a");
      this.size = (await this.handle.stat()).size;
    }
    const fh = this.handle;
    try {
      await fh.appendFile(data);
    } catch (error) {
      // A partial write (ENOSPC half-way) is cut off: the journal holds whole lines only.
      // Should even that fail, later appends go to a new file rather than after a torn line.
      const cut = await fh.truncate(this.size).then(() => true, () => false);
      if (!cut) await this.rotate();
      throw error;
    }
    this.size += data.length;
    this.bytes += data.length;
    this.spilled += records.length;
  }

  /** Closes the open handle; the next append opens the file again (or a new one). */
  private async release(): Promise<void> {
    const fh = this.handle;
    this.handle = null;
    await fh?.close().catch(() => undefined);
  }

  private async rotate(): Promise<void> {
    await this.release();
    this.file = join(this.dir, `${PREFIX}${this.stamp}-${++this.rotations}.jsonl`);
  }

  /** Lets go of the open file (the writer is closing). */
  close(): Promise<void> {
    const run = this.queue.then(() => this.release());
    this.queue = run;
    return run;
  }

  /** The synchronous variant, for a process that is about to exit. Also all or nothing. */
  appendSync(records: UsageRecord[]): void {
    if (records.length === 0) return;
    const data = Buffer.from(records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    if (this.bytes + data.length > this.maxBytes) throw new JournalFullError(this.finalFile, this.maxBytes);
    mkdirSync(this.dir, { recursive: true });
    const fd = openSync(this.finalFile, "a");
    try {
      const size = fstatSync(fd).size;
      try {
        for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
      } catch (error) {
        try {
          ftruncateSync(fd, size);
        } catch {
          // Nothing more can be done; replay skips a torn last line.
        }
        throw error;
      }
    } finally {
      closeSync(fd);
    }
    this.bytes += data.length;
    this.spilled += records.length;
  }

  /**
   * Hands every replayable file's records to `write`, batch by batch; a file is
   * deleted only after all its records were written. Returns how many were replayed.
   */
  async replay(write: (records: UsageRecord[]) => Promise<void>, batchSize: number): Promise<number> {
    // This process's own file may be claimed (renamed) below: appends after it must open it anew.
    await this.close();
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.startsWith(PREFIX));
    } catch {
      return 0;
    }
    let replayed = 0;
    for (const name of names) {
      const path = join(this.dir, name);
      const own = pidOf(name) === process.pid;
      // A file another process was replaying when it died is taken over like a spill file.
      const replayer = /\.replaying-(\d+)$/.exec(name);
      if (replayer ? Number(replayer[1]) === process.pid || isAlive(Number(replayer[1])) : !own && isAlive(pidOf(name))) continue;
      const claimed = `${path.replace(/\.replaying-\d+$/, "")}.replaying-${process.pid}`;
      try {
        await rename(path, claimed);
      } catch {
        continue; // another process claimed it first
      }
      // Streamed line by line: a journal can hold far more than the memory bound.
      let count = 0;
      try {
        let batch: UsageRecord[] = [];
        const lines = createInterface({ input: createReadStream(claimed, "utf8"), crlfDelay: Infinity });
        for await (const line of lines) {
          if (line.trim() === "") continue;
          try {
            batch.push(JSON.parse(line) as UsageRecord);
          } catch {
            continue; // a torn last line from a crash mid-write: that record was never acknowledged
          }
          if (batch.length >= batchSize) {
            await write(batch);
            count += batch.length;
            batch = [];
          }
        }
        if (batch.length > 0) await write(batch);
        count += batch.length;
      } catch (error) {
        // Give it back, under a fresh name of this process, for the next attempt (replaying again
        // is idempotent); never under its old name, which a new spill may be using by now.
        const back = join(this.dir, `${PREFIX}${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}.jsonl`);
        await rename(claimed, back).catch(() => undefined);
        throw error;
      }
      const size = own ? (await stat(claimed).catch(() => ({ size: 0 }))).size : 0;
      await unlink(claimed);
      replayed += count;
      if (own) {
        this.spilled = Math.max(0, this.spilled - count);
        this.bytes = Math.max(0, this.bytes - size);
      }
    }
    return replayed;
  }
}

function pidOf(name: string): number {
  return Number(name.slice(PREFIX.length).split("-")[0]);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
