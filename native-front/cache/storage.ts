// Where the entries live: per host, per URL a slot (its variants, and the fetch in flight for it,
// if any), both in normalised form (keys.ts), and every entry once in a least-recently-used
// order. Memory is everything kept: the entries' bytes (bodies, compressed forms, headers, the
// Vary'd values, keys, bookkeeping), the slots and hosts, and the pass marks (memory.ts), held at
// or under maxSize by evicting from the old end. The pass marks get at most an eighth of it.
import type { CachedEntry } from './entry.js';
import type { RequestView } from './headers.js';
import { PassMarks, selects, type CacheKey } from './keys.js';
import { HOST_BYTES, SLOT_BYTES, stringBytes } from './memory.js';
import type { Filler } from './filler.js';

export interface Slot {
  /** Variants, oldest first. */
  entries: CachedEntry[];
  /** The fetch other requests for this URL wait for. */
  fill: Filler | null;
}

export class CacheStorage {
  private readonly hosts = new Map<string, Map<string, Slot>>();
  /** Insertion order is recency order: a touched entry is deleted and re-added. */
  private readonly lru = new Set<CachedEntry>();
  /** The entry touched last (touching it again costs nothing). */
  private newest: CachedEntry | null = null;
  /** Bytes held, everything counted (see the header). */
  total = 0;
  evictions = 0;
  /** URLs that answered uncacheably lately (keys.ts), counted in `total`. */
  readonly marks: PassMarks;

  constructor(readonly maxSize: number) {
    this.marks = new PassMarks(Math.floor(maxSize / 8), (delta) => {
      this.total += delta;
      if (delta > 0) this.evict();
    });
  }

  get entries(): number {
    return this.lru.size;
  }

  slot(host: string, url: string): Slot | undefined {
    return this.hosts.get(host)?.get(url);
  }

  /** The slot of `host` and `url` (normalised), created if need be (its memory counted). */
  slotFor(host: string, url: string): Slot {
    let slots = this.hosts.get(host);
    if (slots === undefined) {
      this.hosts.set(host, (slots = new Map()));
      this.total += HOST_BYTES + stringBytes(host);
    }
    let slot = slots.get(url);
    if (slot === undefined) {
      slots.set(url, (slot = { entries: [], fill: null }));
      this.total += SLOT_BYTES + stringBytes(url);
    }
    return slot;
  }

  dropSlot(host: string, url: string): void {
    const slots = this.hosts.get(host);
    if (slots === undefined || !slots.delete(url)) return;
    this.total -= SLOT_BYTES + stringBytes(url);
    if (slots.size === 0) {
      this.hosts.delete(host);
      this.total -= HOST_BYTES + stringBytes(host);
    }
  }

  /** The slots of one host (normalised), or of every host. */
  hostsFor(host: string | undefined): [string, Map<string, Slot>][] {
    if (host === undefined) return [...this.hosts];
    const slots = this.hosts.get(host);
    return slots === undefined ? [] : [[host, slots]];
  }

  /** The newest variant of `slot` that a request with key `key` and headers `req` selects. */
  match(slot: Slot, key: CacheKey, req: RequestView): CachedEntry | null {
    const list = slot.entries;
    for (let i = list.length - 1; i >= 0; i--) if (selects(list[i], key, req)) return list[i];
    return null;
  }

  /** Adds `e` to its slot as the most recently used entry, then evicts down to maxSize. */
  add(e: CachedEntry): void {
    this.slotFor(e.host, e.url).entries.push(e);
    this.lru.add(e);
    this.newest = e;
    this.total += e.bytes;
    this.evict();
  }

  touch(e: CachedEntry): void {
    if (this.newest !== e) {
      this.lru.delete(e);
      this.lru.add(e);
      this.newest = e;
    }
  }

  /** The entry's memory changed by `delta` bytes (a compressed form arrived, headers renewed). */
  grew(e: CachedEntry, delta: number): void {
    if (!e.live) return;
    e.bytes += delta;
    this.total += delta;
    if (delta > 0) this.evict();
  }

  remove(e: CachedEntry, evicted: boolean): void {
    if (!e.live) return;
    e.live = false;
    this.lru.delete(e);
    if (this.newest === e) this.newest = null;
    this.total -= e.bytes;
    e.dropCoded();
    if (evicted) this.evictions++;
    const slot = this.slot(e.host, e.url);
    if (slot === undefined) return;
    const i = slot.entries.indexOf(e);
    if (i !== -1) slot.entries.splice(i, 1);
    if (slot.entries.length === 0 && slot.fill === null) this.dropSlot(e.host, e.url);
  }

  /** The fill `f` is over: its URL no longer waits on it. */
  detach(f: Filler): void {
    const slot = this.slot(f.host, f.url);
    if (slot === undefined || slot.fill !== f) return;
    slot.fill = null;
    if (slot.entries.length === 0) this.dropSlot(f.host, f.url);
  }

  /**
   * Down to maxSize: least recently used entries first, then pass marks. What is left over it
   * is the slots of fetches in flight (bounded by the requests in flight).
   */
  private evict(): void {
    if (this.total <= this.maxSize) return;
    for (const victim of this.lru) {
      if (this.total <= this.maxSize) return;
      this.remove(victim, true);
    }
    while (this.total > this.maxSize && this.marks.dropOldest());
  }
}
