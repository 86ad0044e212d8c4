// In-flight requests by id, on both ends of a worker's port: an open-addressing hash table
// (linear probing, backward-shift deletion) over a Float64Array of keys and a plain array of
// values. Ids are positive, only grow, and every entry is deleted soon after it is added.
//
// Why not the obvious containers (both measured on the front under `npm run bench`, hello):
// - `Map`: in about two process starts out of three, a third of everything the thread allocated
//   survived each young-generation GC and was promoted; scavenges took 14 ms instead of 0.4 ms
//   and the dynamic p99 went from 3 ms to 16 ms. The likely mechanism: V8 rehashes a Map into a
//   fresh table as deleted entries pile up and leaves the obsolete table pointing at its
//   successor (for live iterators); once one obsolete table has been promoted, that pointer keeps
//   every later table, and every request it still names, alive through the next scavenge.
// - A null-prototype object keyed by id: its elements go to dictionary mode, so every get, set
//   and delete took V8's generic path (seeded number hashing, megamorphic keyed loads): about 2%
//   of the front thread's time in perf.
// Here both arrays live as long as the table and an entry is two stores; nothing is allocated
// per request. Consecutive ids land in consecutive buckets, so probes are short.
export class IdTable<T> {
  private keys: Float64Array;
  private vals: (T | undefined)[];
  private mask: number;
  size = 0;

  constructor(capacity = 64) {
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.keys = new Float64Array(cap);
    this.vals = new Array<T | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  get(id: number): T | undefined {
    const i = this.find(id);
    return this.keys[i] === id ? this.vals[i] : undefined;
  }

  set(id: number, value: T): void {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const i = this.find(id);
    if (this.keys[i] === 0) {
      this.keys[i] = id;
      this.size++;
    }
    this.vals[i] = value;
  }

  delete(id: number): boolean {
    const keys = this.keys;
    const vals = this.vals;
    const mask = this.mask;
    let i = this.find(id);
    if (keys[i] === 0) return false;
    // Backward shift: pull later entries of the probe run into the hole, so lookups never meet
    // tombstones. The entry at j stays put when its home bucket lies cyclically in (i, j].
    for (let j = (i + 1) & mask; keys[j] !== 0; j = (j + 1) & mask) {
      const home = keys[j] & mask;
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      keys[i] = keys[j];
      vals[i] = vals[j];
      i = j;
    }
    keys[i] = 0;
    vals[i] = undefined;
    this.size--;
    return true;
  }

  /** A snapshot: the table may be changed while it is walked. */
  values(): T[] {
    const out: T[] = [];
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) out.push(this.vals[i] as T);
    return out;
  }

  clear(): void {
    this.keys.fill(0);
    this.vals.fill(undefined);
    this.size = 0;
  }

  /** The bucket holding `id`, or the empty bucket where it would go. */
  private find(id: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = id & mask;
    while (keys[i] !== id && keys[i] !== 0) i = (i + 1) & mask;
    return i;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const cap = oldKeys.length * 2;
    this.keys = new Float64Array(cap);
    this.vals = new Array<T | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i] !== 0) this.set(oldKeys[i], oldVals[i] as T);
  }
}
