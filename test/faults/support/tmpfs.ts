/**
 * Real small file systems for the fault tests: a tmpfs of a given size (a disk that fills
 * up) that can be made read-only. Mounting needs root on Linux; where it is not possible
 * the reason is returned so the test can say why it is skipped.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statSync, truncateSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Tmpfs {
  dir: string;
  readOnly(): void;
  writable(): void;
  unmount(): void;
}

/** Mounts a tmpfs of `size` (e.g. "4m"), or returns why it cannot. */
export function mountTmpfs(size: string): Tmpfs | { reason: string } {
  if (process.platform !== "linux") return { reason: `tmpfs mounts need Linux (this is ${process.platform})` };
  const dir = mkdtempSync(join(tmpdir(), "tt-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = String((error as { stderr?: Buffer }).stderr ?? "").trim();
    return { reason: `cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): ${stderr || (error as Error).message}` };
  }
  return {
    dir,
    readOnly: () => execFileSync("mount", ["-o", "remount,ro", dir], { stdio: "pipe" }),
    writable: () => execFileSync("mount", ["-o", "remount,rw", dir], { stdio: "pipe" }),
    unmount: () => {
      try {
        execFileSync("umount", ["-l", dir], { stdio: "pipe" });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export function isMounted(m: Tmpfs | { reason: string }): m is Tmpfs {
  return "dir" in m;
}

/** Fills the file system holding `dir` to the last byte (less `leaveBytes`); returns the filler file. */
export function fillFileSystem(dir: string, leaveBytes = 0): string {
  const filler = join(dir, `filler-${Math.random().toString(36).slice(2)}`);
  const fd = openSync(filler, "w");
  const chunk = Buffer.alloc(64 * 1024, 120);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  }
  try {
    for (;;) writeSync(fd, chunk, 0, 512); // the last partial chunk
  } catch {
    // full to the byte
  }
  closeSync(fd);
  if (leaveBytes > 0) truncateSync(filler, statSync(filler).size - leaveBytes);
  return filler;
}
