/** Opaque paging cursors: base64url of the last record's (timestamp, id). */
import { InvalidCursorError } from "../errors.js";

export interface CursorPosition {
  timestamp: string;
  id: string;
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.timestamp, position.id]), "utf8").toString("base64url");
}

export function decodeCursor(cursor: unknown): CursorPosition {
  if (typeof cursor !== "string" || cursor.length === 0 || cursor.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw new InvalidCursorError();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new InvalidCursorError();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== "string" ||
    typeof parsed[1] !== "string" ||
    Number.isNaN(Date.parse(parsed[0]))
  ) {
    throw new InvalidCursorError();
  }
  return { timestamp: parsed[0], id: parsed[1] };
}
