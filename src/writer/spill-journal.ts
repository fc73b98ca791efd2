/**
 * The spill journal: where records go when the store has been unreachable long
 * enough that the memory buffer is full. One JSON-lines file per process (so live
 * processes never write the same file); a process replays its own files and those
 * of processes that are gone, claiming each by an atomic rename before reading it.
 * Replays are safe to repeat because stores are idempotent by record id.
 */
import { appendFileSync, createReadStream, mkdirSync } from "node:fs";
import { appendFile, mkdir, readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { UsageRecord } from "../record/types.js";

const PREFIX = "spill-";

export class SpillJournal {
  private readonly file: string;
  private spilled = 0;

  constructor(private readonly dir: string) {
    this.file = join(dir, `${PREFIX}${process.pid}-${Date.now().toString(36)}.jsonl`);
  }

  /** Records currently written by this process and not yet replayed. */
  get pending(): number {
    return this.spilled;
  }

  async append(records: UsageRecord[]): Promise<void> {
    if (records.length === 0) return;
    await mkdir(this.dir, { recursive: true });
    await appendFile(this.file, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    this.spilled += records.length;
  }

  /** The synchronous variant, for a process that is about to exit. */
  appendSync(records: UsageRecord[]): void {
    if (records.length === 0) return;
    mkdirSync(this.dir, { recursive: true });
    appendFileSync(this.file, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    this.spilled += records.length;
  }

  /**
   * Hands every replayable file's records to `write`, batch by batch; a file is
   * deleted only after all its records were written. Returns how many were replayed.
   */
  async replay(write: (records: UsageRecord[]) => Promise<void>, batchSize: number): Promise<number> {
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
      await unlink(claimed);
      replayed += count;
      if (own) this.spilled = Math.max(0, this.spilled - count);
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
