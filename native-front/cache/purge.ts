// Dropping entries on demand: one URL, a URL prefix, or everything (a reload). A fetch in flight
// for a purged URL is doomed: its answer may predate the purge, so it stores nothing. Hosts and
// URLs are normalised as keys are (keys.ts), so a purge of `a.test` and `/c/echo` also drops what
// was stored for `Host: A.test:8080`, `a.test.` and `/c//echo`; a purge frees every byte counted.
import { cacheHost, cachePath } from './keys.js';
import type { CacheStorage, Slot } from './storage.js';

function purgeSlot(storage: CacheStorage, slot: Slot): number {
  const n = slot.entries.length;
  for (const e of [...slot.entries]) storage.remove(e, false);
  if (slot.fill !== null) slot.fill.doomed = true;
  return n;
}

/** Removes the entries of one URL (path and query, exactly); of every host when `host` is not given. */
export function purgeUrl(storage: CacheStorage, url: string, host?: string): number {
  let n = 0;
  const path = cachePath(url);
  for (const [h, slots] of storage.hostsFor(host === undefined ? undefined : cacheHost(host))) {
    const slot = slots.get(path);
    if (slot !== undefined) n += purgeSlot(storage, slot);
    storage.marks.delete(h, path);
  }
  return n;
}

/** Removes the entries whose URL starts with `prefix`. */
export function purgePrefix(storage: CacheStorage, prefix: string, host?: string): number {
  let n = 0;
  const path = cachePath(prefix);
  const h = host === undefined ? undefined : cacheHost(host);
  for (const [, slots] of storage.hostsFor(h)) {
    for (const [url, slot] of [...slots]) if (url.startsWith(path)) n += purgeSlot(storage, slot);
  }
  storage.marks.deletePrefix(path, h);
  return n;
}

/** Removes everything. */
export function purgeAll(storage: CacheStorage): number {
  let n = 0;
  for (const [, slots] of storage.hostsFor(undefined)) for (const [, slot] of [...slots]) n += purgeSlot(storage, slot);
  storage.marks.clear();
  return n;
}
