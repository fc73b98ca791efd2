/**
 * What the extension keeps beside the package's in-memory documents: a logical sequence
 * number per container that every write advances (the change feed's order and
 * continuation), and snapshots that let a transactional batch roll back.
 *
 * Every write of the package ends in `Items._set` (create, and replace = delete + set), so
 * wrapping that one method on a container's `documents` stamps every write, whichever
 * handler made it. The number is kept beside the stored object, not in it, so point reads
 * and queries return documents unchanged; the change feed adds `_lsn` as the service does.
 */
import type { Doc, StockCollection, StockItems } from "./stock.js";

export interface ContainerLog {
  /** The last sequence number given out; 0 for a container never written. */
  lsn: number;
  /** Sequence number of each stored document version (the objects the package stores). */
  readonly lsnOf: WeakMap<object, number>;
}

const logs = new WeakMap<StockItems, ContainerLog>();

/** The container's log, installing the write hook on first use. */
export function containerLog(collection: StockCollection): ContainerLog {
  const items = collection.documents;
  let log = logs.get(items);
  if (log) return log;
  const created: ContainerLog = { lsn: 0, lsnOf: new WeakMap() };
  const set = items._set;
  items._set = function stampWrite(this: StockItems, data: Doc): Doc {
    const stored = set.call(this, data);
    created.lsn += 1;
    created.lsnOf.set(stored, created.lsn);
    return stored;
  };
  logs.set(items, created);
  log = created;
  return log;
}

/**
 * Copies what a write can change (the document map, the id index, the rid counter and the
 * sequence number); the returned function puts it all back. The copies are shallow: the
 * package never mutates a stored document, it stores a new object per write.
 */
export function snapshot(collection: StockCollection): () => void {
  const items = collection.documents;
  const log = containerLog(collection);
  const data = new Map(items._data);
  const index = new Map(items._index);
  const ridCount = items._ridCount;
  const lsn = log.lsn;
  return () => {
    items._data.clear();
    for (const [k, v] of data) items._data.set(k, v);
    items._index.clear();
    for (const [k, v] of index) items._index.set(k, v);
    items._ridCount = ridCount;
    log.lsn = lsn;
  };
}

/** The container's partition key path as segments (`/userId` -> ["userId"]). */
export function partitionKeyPath(collection: StockCollection): string[] {
  return collection.documents._getPartitionKeyPath();
}
