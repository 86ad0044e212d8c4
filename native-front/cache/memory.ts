// What the cache's memory is counted as, against maxSize: everything it keeps, bookkeeping
// included. The fixed costs were measured, not guessed: scripts/measure-cache-overhead.ts builds
// 20,000 of each structure through the cache's own code and divides the heap growth by the
// count, less what the counting below already gives them. On Node 20.20 x64 (two runs, with
// these constants): STRING 24-26, SLOT 70, HOST 150, ENTRY 920, MARK 86-94; each constant is
// above what it measured. Strings cost their length, twice when V8 must keep them two bytes a
// character (anything outside Latin-1), plus a header.

/** V8's header of a string (map, hash, length), rounded to its 8-byte allocation. */
export const STRING_BYTES = 32;
/** One stored response without its strings, body bytes and headers: the CachedEntry object, its
 *  per-coding arrays, its key object, the Buffer holding the body, its Vary arrays, the LRU set's
 *  and the slot's references to it. */
export const ENTRY_BYTES = 960;
/** A slot (one URL of one host): its object, its variants array, its place in the host's Map. */
export const SLOT_BYTES = 96;
/** A host's Map of slots and its place in the hosts Map. */
export const HOST_BYTES = 176;
/** One pass mark: its place in the marks Map and the expiry number. */
export const MARK_BYTES = 128;
/** Per header string in an entry's list: the string and its array slot; see headerBytes. */
const HEADER_STRING_BYTES = STRING_BYTES + 8;

/** The memory of `s`: 1 byte a character while V8 can keep it one-byte (Latin-1), else 2. */
export function stringBytes(s: string): number {
  // eslint-disable-next-line no-control-regex
  return STRING_BYTES + (/[^\u0000-\u00ff]/.test(s) ? 2 * s.length : s.length);
}

/** The memory of several strings. */
export function stringsBytes(list: readonly string[]): number {
  let n = 0;
  for (const s of list) n += stringBytes(s);
  return n;
}

/**
 * The memory of an entry's headers: the flat list, plus the preformatted copies a hit writes
 * (the block, its text, the HIT head; see write-hit.ts) made from it, so three times its text.
 */
export function headerBytes(flat: readonly string[]): number {
  let n = 0;
  for (const s of flat) n += HEADER_STRING_BYTES + 3 * (stringBytes(s) - STRING_BYTES + 2);
  return n;
}
