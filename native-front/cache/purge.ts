// Dropping entries on demand: one URL, a URL prefix, or everything (a reload). A fetch in flight
// for a purged URL is doomed: its answer may predate the purge, so it stores nothing.
import type { PassMarks } from './keys.js';
import type { CacheStorage, Slot } from './storage.js';

function purgeSlot(storage: CacheStorage, slot: Slot): number {
  const n = slot.entries.length;
  for (const e of [...slot.entries]) storage.remove(e, false);
  if (slot.fill !== null) slot.fill.doomed = true;
  return n;
}

/** Removes the entries of one URL (path and query, exactly); of every host when `host` is not given. */
export function purgeUrl(storage: CacheStorage, marks: PassMarks, url: string, host?: string): number {
  let n = 0;
  for (const [h, slots] of storage.hostsFor(host)) {
    const slot = slots.get(url);
    if (slot !== undefined) n += purgeSlot(storage, slot);
    marks.delete(h, url);
  }
  return n;
}

/** Removes the entries whose URL starts with `prefix`. */
export function purgePrefix(storage: CacheStorage, prefix: string, host?: string): number {
  let n = 0;
  for (const [, slots] of storage.hostsFor(host)) {
    for (const [url, slot] of [...slots]) if (url.startsWith(prefix)) n += purgeSlot(storage, slot);
  }
  return n;
}

/** Removes everything. */
export function purgeAll(storage: CacheStorage, marks: PassMarks): number {
  let n = 0;
  for (const [, slots] of storage.hostsFor(undefined)) for (const [, slot] of [...slots]) n += purgeSlot(storage, slot);
  marks.clear();
  return n;
}
