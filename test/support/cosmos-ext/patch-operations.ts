/**
 * The partial document update operations as Azure Cosmos DB documents them
 * ("Partial document update", Supported operations), applied to a copy of a document:
 *
 * - add: creates or replaces a property; in an array inserts at an index (0..length) or
 *   appends with `-`; an index past the end is an error.
 * - set: like add, but an array index updates the element there (it must exist).
 * - replace: the target must exist (property or array element), else an error.
 * - remove: the target must exist, else an error; an array element shifts the rest back.
 * - incr: adds a number; a missing property is created with the value; a non-number is an error.
 * - move: `from` must exist; `path` may not be inside `from`.
 *
 * For every operation the parent of the target must exist (paths are not created
 * recursively). At most 10 operations; system properties (`_rid`, `_etag`...), `id` and
 * the partition key cannot be patched. Every failure is a 400 for the whole patch.
 */
import type { Doc } from "./stock.js";

export const MAX_PATCH_OPERATIONS = 10;
const OPS = new Set(["add", "set", "replace", "remove", "incr", "move"]);

export class PatchError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const bad = (message: string) => new PatchError(400, message);

export interface PatchOperationInput {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

/** Checks the shape of a patch before the document is looked up (the service answers 400 first). */
export function validatePatch(operations: unknown, partitionKeyPath: string[]): PatchOperationInput[] {
  if (!Array.isArray(operations) || operations.length === 0) throw bad("A patch needs at least one operation.");
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw bad(`A patch carries at most ${MAX_PATCH_OPERATIONS} operations; got ${operations.length}.`);
  }
  operations.forEach((raw, i) => {
    const op = raw as PatchOperationInput;
    if (!op || typeof op !== "object" || !OPS.has(op.op)) throw bad(`Operation ${i}: unknown op ${JSON.stringify(op?.op)}.`);
    for (const path of op.op === "move" ? [op.path, op.from] : [op.path]) checkWritablePath(path, partitionKeyPath, i);
    if (op.op !== "remove" && op.op !== "move" && !("value" in op)) throw bad(`Operation ${i}: ${op.op} needs a value.`);
    if (op.op === "incr" && (typeof op.value !== "number" || !Number.isFinite(op.value))) {
      throw bad(`Operation ${i}: incr needs a number, got ${JSON.stringify(op.value)}.`);
    }
  });
  return operations as PatchOperationInput[];
}

/** Applies the operations in order to a deep copy of `doc`; throws PatchError(400) on the first that fails. */
export function applyPatchOperations(doc: Doc, operations: PatchOperationInput[]): Doc {
  const result = structuredClone(doc);
  operations.forEach((op, i) => {
    try {
      applyOne(result, op);
    } catch (err) {
      if (err instanceof PatchError) throw bad(`Operation ${i} (${op.op} ${op.path}): ${err.message}`);
      throw err;
    }
  });
  return result;
}

function applyOne(doc: Doc, op: PatchOperationInput): void {
  const segments = parsePath(op.path);
  if (op.op === "move") {
    const from = parsePath(op.from as string);
    if (isPrefix(from, segments)) throw bad("path cannot be the from location or inside it.");
    const source = locate(doc, from);
    if (!has(source.parent, source.key)) throw bad(`from ${op.from} does not exist.`);
    const value = get(source.parent, source.key);
    removeAt(source.parent, source.key);
    insertAt(locate(doc, segments), value);
    return;
  }
  const target = locate(doc, segments);
  const { parent, key } = target;
  switch (op.op) {
    case "add":
      insertAt(target, op.value);
      return;
    case "set":
      if (Array.isArray(parent)) parent[existingIndex(parent, key)] = op.value;
      else parent[key] = op.value;
      return;
    case "replace":
      if (!has(parent, key)) throw bad("the target does not exist (replace never creates).");
      if (Array.isArray(parent)) parent[existingIndex(parent, key)] = op.value;
      else parent[key] = op.value;
      return;
    case "remove":
      if (!has(parent, key)) throw bad("the target does not exist.");
      removeAt(parent, key);
      return;
    case "incr": {
      if (Array.isArray(parent)) {
        const i = existingIndex(parent, key);
        if (typeof parent[i] !== "number") throw bad("the target is not a number.");
        parent[i] = (parent[i] as number) + (op.value as number);
        return;
      }
      const current = parent[key];
      if (current === undefined) parent[key] = op.value;
      else if (typeof current === "number") parent[key] = current + (op.value as number);
      else throw bad("the target is not a number.");
      return;
    }
  }
}

type Container = Record<string, unknown> | unknown[];
interface Target {
  parent: Container & Record<string, unknown>;
  key: string;
}

function parsePath(path: string): string[] {
  return path
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function checkWritablePath(path: unknown, partitionKeyPath: string[], i: number): void {
  if (typeof path !== "string" || !path.startsWith("/") || path.length < 2) {
    throw bad(`Operation ${i}: path must be a JSON pointer below the root, got ${JSON.stringify(path)}.`);
  }
  const segments = parsePath(path);
  if (segments[0].startsWith("_")) throw bad(`Operation ${i}: system property ${segments[0]} cannot be patched.`);
  if (segments.length === 1 && segments[0] === "id") throw bad(`Operation ${i}: id cannot be patched.`);
  if (isPrefix(segments, partitionKeyPath) || isPrefix(partitionKeyPath, segments)) {
    throw bad(`Operation ${i}: the partition key /${partitionKeyPath.join("/")} cannot be patched.`);
  }
}

function isPrefix(prefix: string[], of: string[]): boolean {
  return prefix.length <= of.length && prefix.every((s, i) => s === of[i]);
}

/** The parent of the target, which must exist: paths are never created recursively. */
function locate(doc: Doc, segments: string[]): Target {
  let node: unknown = doc;
  for (const segment of segments.slice(0, -1)) {
    if (Array.isArray(node)) node = node[existingIndex(node, segment)];
    else if (isObject(node) && Object.hasOwn(node, segment)) node = node[segment];
    else throw bad(`the parent of the target does not exist (at ${segment}).`);
  }
  if (!isObject(node) && !Array.isArray(node)) throw bad("the parent of the target is neither an object nor an array.");
  return { parent: node as Target["parent"], key: segments[segments.length - 1] };
}

function insertAt({ parent, key }: Target, value: unknown): void {
  if (!Array.isArray(parent)) {
    parent[key] = value;
    return;
  }
  if (key === "-") {
    parent.push(value);
    return;
  }
  const i = arrayIndex(key);
  if (i > parent.length) throw bad(`index ${i} is past the end of the array (length ${parent.length}).`);
  parent.splice(i, 0, value);
}

function removeAt(parent: Target["parent"], key: string): void {
  if (Array.isArray(parent)) parent.splice(existingIndex(parent, key), 1);
  else delete parent[key];
}

function has(parent: Target["parent"], key: string): boolean {
  if (Array.isArray(parent)) return /^\d+$/.test(key) && Number(key) < parent.length;
  return Object.hasOwn(parent, key);
}

function get(parent: Target["parent"], key: string): unknown {
  return Array.isArray(parent) ? parent[Number(key)] : parent[key];
}

function arrayIndex(key: string): number {
  if (!/^\d+$/.test(key)) throw bad(`${JSON.stringify(key)} is not an array index.`);
  return Number(key);
}

function existingIndex(array: unknown[], key: string): number {
  const i = arrayIndex(key);
  if (i >= array.length) throw bad(`index ${i} is out of the array's bounds (length ${array.length}).`);
  return i;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
