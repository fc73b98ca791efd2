/**
 * Child processes for the fault tests: fixtures run with `node --import tsx`, their
 * stdout read line by line, so a test can wait for "ready" and then signal or kill.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface RunningChild {
  child: ChildProcess;
  /** Resolves with the first stdout line matching `pattern` (rejects if the child exits first). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the child exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  lines: string[];
}

export function startFixture(name: string, args: string[]): RunningChild {
  const script = fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let err = "";
  let partial = "";
  const listeners = new Set<(line: string) => void>();
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const l of listeners) l(line);
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    exited,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 15_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern} from ${name}; stderr: ${err}`)), timeoutMs);
        const onLine = (line: string) => pattern.test(line) && done(null, line);
        const done = (error: Error | null, line?: string) => {
          clearTimeout(timer);
          listeners.delete(onLine);
          if (error) reject(error);
          else resolve(line!);
        };
        listeners.add(onLine);
        void exited.then(({ code, signal }) => done(new Error(`${name} exited (${code ?? signal}) before ${pattern}; stderr: ${err}`)));
      });
    },
  };
}

export const quietLogger = { warn: () => undefined, error: () => undefined };
