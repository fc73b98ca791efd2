/**
 * What the extension keeps beside the package's in-memory documents: a logical sequence
 * number per container that every write advances (the change feed's order and
 * continuation), and a journal that lets a transactional batch roll back.
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
 * Starts recording what writes change (the document map, the id index, the rid counter
 * and the sequence number) until the returned `rollback` or `commit` is called; `rollback`
 * puts everything back. Only the entries a write touches are recorded (the first value each
 * key had), so a batch costs what its operations touch, not what the container holds.
 * Batches run synchronously once their body is read, so no other request interleaves.
 */
export function beginTransaction(collection: StockCollection): { rollback(): void; commit(): void } {
  const items = collection.documents;
  const log = containerLog(collection);
  const journals = [journal(items._data), journal(items._index)];
  const ridCount = items._ridCount;
  const lsn = log.lsn;
  return {
    rollback() {
      for (const j of journals) j.undo();
      items._ridCount = ridCount;
      log.lsn = lsn;
    },
    commit() {
      for (const j of journals) j.stop();
    },
  };
}

/** Shadows a Map's set/delete on the instance to remember each key's first value. */
function journal<K, V>(map: Map<K, V>) {
  const before = new Map<K, { had: boolean; value: V | undefined }>();
  const remember = (key: K) => {
    if (!before.has(key)) before.set(key, { had: map.has(key), value: map.get(key) });
  };
  const target = map as Map<K, V> & { set: Map<K, V>["set"]; delete: Map<K, V>["delete"] };
  target.set = (key, value) => (remember(key), Map.prototype.set.call(map, key, value) as Map<K, V>);
  target.delete = (key) => (remember(key), Map.prototype.delete.call(map, key));
  const stop = () => {
    delete (target as Partial<typeof target>).set;
    delete (target as Partial<typeof target>).delete;
  };
  return {
    stop,
    undo() {
      stop();
      for (const [key, { had, value }] of before) {
        if (had) map.set(key, value as V);
        else map.delete(key);
      }
    },
  };
}

/** The container's partition key path as segments (`/userId` -> ["userId"]). */
export function partitionKeyPath(collection: StockCollection): string[] {
  return collection.documents._getPartitionKeyPath();
}
