// In-flight requests by id, on both ends of a worker's port. Ids only grow and every entry is
// deleted soon after it is added, the access pattern that made a `Map` costly here. Measured on
// the front with a Map, in about two process starts out of three: a third of everything the
// thread allocated survived each young-generation GC and was promoted, scavenges took 14 ms
// instead of 0.4 ms, and the dynamic p99 went from 3 ms to 16 ms. With this table: never.
// The likely mechanism: V8 rehashes a Map into a fresh table as deleted entries pile up and
// leaves the obsolete table pointing at its successor (for live iterators); once one obsolete
// table has been promoted, that pointer keeps every later table, and every request it still
// names, alive through the next scavenge. A null-prototype object keyed by integer ids has no
// such chain.
export class IdTable<T> {
  private entries: Record<number, T> = Object.create(null) as Record<number, T>;
  size = 0;

  get(id: number): T | undefined {
    return this.entries[id];
  }

  set(id: number, value: T): void {
    if (this.entries[id] === undefined) this.size++;
    this.entries[id] = value;
  }

  delete(id: number): boolean {
    if (this.entries[id] === undefined) return false;
    delete this.entries[id];
    // Empty: start over with a small backing store rather than carry a sparse one.
    if (--this.size === 0) this.entries = Object.create(null) as Record<number, T>;
    return true;
  }

  /** A snapshot: the table may be changed while it is walked. */
  values(): T[] {
    return Object.values(this.entries);
  }

  clear(): void {
    this.entries = Object.create(null) as Record<number, T>;
    this.size = 0;
  }
}
