/** A logger that keeps its lines, and the records left in a spill journal folder. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export function captureLog() {
  const lines: Array<{ level: string; message: string }> = [];
  return {
    lines,
    logger: { warn: (m: string) => void lines.push({ level: "warn", message: m }), error: (m: string) => void lines.push({ level: "error", message: m }) },
    /** The writer's reports of a store that cannot be used. */
    unusable: () => lines.filter((l) => l.level === "error" && l.message.includes("cannot be stored")).map((l) => l.message),
  };
}

/** Ids of the records in a spill folder's journal files (whole JSON lines). */
export function journaled(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.startsWith("spill-"))
    .flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l !== ""))
    .map((l) => (JSON.parse(l) as { id: string }).id);
}
