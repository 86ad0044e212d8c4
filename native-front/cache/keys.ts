// How the cache keys what it holds: by host (lowercase), then by URL (path and query, exactly as
// requested), then by variant: the values of the request headers the response's Vary names.
import { negotiateCoding } from '../../shared/compress/index.js';
import type { CachedEntry } from './entry.js';
import type { RequestView } from './headers.js';

/** Lowercase field names of a Vary value; null for "*". */
export function parseVary(v: string): string[] | null {
  if (v === '') return [];
  const names: string[] = [];
  for (const part of v.split(',')) {
    const n = part.trim().toLowerCase();
    if (n === '*') return null;
    if (n !== '' && !names.includes(n)) names.push(n);
  }
  return names;
}

/** A request header's value as a Vary key: Accept-Encoding by the coding it would get. */
export function varyValue(name: string, value: string): string {
  if (name === 'accept-encoding') return negotiateCoding(value) ?? '';
  return value.trim();
}

/** Do two variants name the same headers with the same values? */
export function sameValues(a: readonly string[], b: readonly string[], an: readonly string[], bn: readonly string[]): boolean {
  if (an.length !== bn.length) return false;
  for (let i = 0; i < an.length; i++) if (an[i] !== bn[i] || a[i] !== b[i]) return false;
  return true;
}

/** Does `req` select `e` (its Vary'd headers match)? */
export function selects(e: CachedEntry, req: RequestView): boolean {
  const names = e.varyNames;
  for (let j = 0; j < names.length; j++) if (varyValue(names[j], req.getHeader(names[j])) !== e.varyValues[j]) return false;
  return true;
}

/** The key of a host and URL in the pass marks. */
export function passKey(host: string, url: string): string {
  return `${host} ${url}`;
}

const PASS_MARKS_MAX = 10_000;

/**
 * URLs that answered uncacheably lately (Varnish's hit-for-miss): their requests go to the app
 * in parallel rather than waiting for each other. Bounded: cleared when it reaches 10,000.
 */
export class PassMarks {
  private readonly marks = new Map<string, number>();

  set(host: string, url: string, until: number): void {
    if (this.marks.size >= PASS_MARKS_MAX) this.marks.clear();
    this.marks.set(passKey(host, url), until);
  }

  /** Is `host url` marked at `now`? (An expired mark is dropped.) */
  has(host: string, url: string, now: number): boolean {
    const key = passKey(host, url);
    const until = this.marks.get(key);
    if (until === undefined) return false;
    if (now < until) return true;
    this.marks.delete(key);
    return false;
  }

  delete(host: string, url: string): void {
    this.marks.delete(passKey(host, url));
  }

  clear(): void {
    this.marks.clear();
  }
}
