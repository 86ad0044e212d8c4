// How the cache keys what it holds. A slot per host and URL in normalised form (cacheHost,
// cachePath: what a purge names finds every spelling of it), and in a slot one entry per variant:
// the exact request it answers (scheme, Host, URL as sent) and the values of the request headers
// the response's Vary names.
//
// Why the exact request stays part of the variant rather than only the normalised key: the app
// sees the Host and URL as sent. An app that builds a Location from `Host: a.test:1234` or
// answers `/c//x` differently from `/c/x` would otherwise have its answer to the odd spelling
// served to everyone who asked for the plain one (cache poisoning through an unkeyed input).
// The scheme (after --trust-proxy's X-Forwarded-Proto) is part of it as nginx's $scheme is of
// its default key: a redirect to https made for an http request must never reach https clients.
import { negotiateCoding } from '../../shared/compress/index.js';
import { hostnameOf } from '../routing/host-match.js';
import { MARK_BYTES, stringBytes } from './memory.js';
import type { CachedEntry } from './entry.js';
import type { RequestView } from './headers.js';

/** Where a request's answers are kept (see the header of this file). */
export interface CacheKey {
  /** The host as vhosts match it: lowercase, no port, no trailing dot. */
  readonly host: string;
  /** The path in normalised form (cachePath) and the query as sent. */
  readonly url: string;
  /** The request exactly: its scheme, its Host (lowercased), its URL as sent (each usually the
   *  same string as host and url: nothing is built for them on the hit path). */
  readonly secure: boolean;
  readonly rawHost: string;
  readonly rawUrl: string;
}

/** The host part of a key: lowercase, without port and trailing dot (as vhosts match names). */
export function cacheHost(host: string): string {
  return lowerCacheHost(host.toLowerCase());
}

/** cacheHost of a host already in lowercase. */
function lowerCacheHost(lower: string): string {
  // The common Host (a name without port) is its own key: no copy on the hit path.
  if (lower.indexOf(':') === -1 && lower.charCodeAt(lower.length - 1) !== 46) return lower;
  return hostnameOf(lower);
}

/**
 * The path part of a key: repeated slashes merged, "." and ".." segments (also spelled %2e)
 * resolved, never above the root; the query untouched. A small function of its own so that it
 * can become the router's normalisation once routing normalises paths (issue 18, item 7).
 */
export function cachePath(url: string): string {
  if (isNormalPath(url)) return url; // the common case: one scan, no copy
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const segs = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i];
    const last = i === segs.length - 1;
    const dots = seg.length <= 6 ? seg.replace(/%2e/gi, '.') : seg;
    if (dots === '.' || dots === '..') {
      if (dots === '..') out.pop();
      if (last) out.push('');
      continue;
    }
    if (seg === '' && !last) continue;
    out.push(seg);
  }
  return `/${out.join('/')}${q === -1 ? '' : url.slice(q)}`;
}

/** No "//", "/." or "%2e" in the path (before any "?"): nothing for cachePath to do. */
function isNormalPath(url: string): boolean {
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 63) return true; // ?
    if (c === 37 && url.charCodeAt(i + 1) === 50 && (url.charCodeAt(i + 2) | 32) === 101) return false; // %2e, %2E
    if (c === 47) {
      const next = url.charCodeAt(i + 1);
      if (next === 47 || next === 46) return false; // "//", "/."
    }
  }
  return true;
}

/** The key of a request for `url` (path and query) with Host `host`, over https when `secure`. */
export function requestKey(secure: boolean, host: string, url: string): CacheKey {
  const rawHost = host.toLowerCase();
  return { host: lowerCacheHost(rawHost), url: cachePath(url), secure, rawHost, rawUrl: url };
}

/** Do two keys name the same request (scheme, Host, URL as sent)? */
export function sameRequest(a: CacheKey, b: CacheKey): boolean {
  return a.secure === b.secure && a.rawUrl === b.rawUrl && a.rawHost === b.rawHost;
}

/** The memory of a key's strings (those it shares with each other counted once). */
export function keyBytes(k: CacheKey): number {
  return (
    stringBytes(k.host) +
    stringBytes(k.url) +
    (k.rawHost === k.host ? 0 : stringBytes(k.rawHost)) +
    (k.rawUrl === k.url ? 0 : stringBytes(k.rawUrl))
  );
}

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

/** Do two variants answer the same request with the same header names and values? */
export function sameVariant(a: CachedEntry, key: CacheKey, values: readonly string[], names: readonly string[]): boolean {
  if (!sameRequest(a.key, key) || a.varyNames.length !== names.length) return false;
  for (let i = 0; i < names.length; i++) if (a.varyNames[i] !== names[i] || a.varyValues[i] !== values[i]) return false;
  return true;
}

/** Does a request with key `key` and headers `req` select `e`? */
export function selects(e: CachedEntry, key: CacheKey, req: RequestView): boolean {
  if (!sameRequest(e.key, key)) return false;
  const names = e.varyNames;
  for (let j = 0; j < names.length; j++) if (varyValue(names[j], req.getHeader(names[j])) !== e.varyValues[j]) return false;
  return true;
}

/** The key of a host and URL (both normalised) in the pass marks. */
export function passKey(host: string, url: string): string {
  return `${host} ${url}`;
}

/**
 * URLs that answered uncacheably lately (Varnish's hit-for-miss): their requests go to the app
 * in parallel rather than waiting for each other. Their memory counts against the cache's
 * maxSize (`account` hears of every change) and is bounded by `budget` bytes: past it the least
 * recently marked go first.
 */
export class PassMarks {
  /** Insertion order is the order marks were set (a mark set again moves to the end). */
  private readonly marks = new Map<string, number>();
  bytes = 0;

  constructor(
    private readonly budget: number,
    private readonly account: (delta: number) => void,
  ) {}

  get size(): number {
    return this.marks.size;
  }

  set(host: string, url: string, until: number): void {
    const key = passKey(host, url);
    if (this.marks.delete(key)) this.marks.set(key, until);
    else {
      this.marks.set(key, until);
      this.grow(markBytes(key));
    }
    for (const oldest of this.marks.keys()) {
      if (this.bytes <= this.budget) break;
      this.drop(oldest);
    }
  }

  /** Is `host url` marked at `now`? (An expired mark is dropped.) */
  has(host: string, url: string, now: number): boolean {
    const key = passKey(host, url);
    const until = this.marks.get(key);
    if (until === undefined) return false;
    if (now < until) return true;
    this.drop(key);
    return false;
  }

  delete(host: string, url: string): void {
    this.drop(passKey(host, url));
  }

  /** Drops the marks of URLs under `prefix` (normalised), of one host (normalised) or all. */
  deletePrefix(prefix: string, host: string | undefined): void {
    for (const key of [...this.marks.keys()]) {
      const space = key.indexOf(' ');
      if ((host === undefined || key.slice(0, space) === host) && key.startsWith(prefix, space + 1)) this.drop(key);
    }
  }

  /** Drops the oldest mark (the cache needs room); false when there is none. */
  dropOldest(): boolean {
    for (const k of this.marks.keys()) {
      this.drop(k);
      return true;
    }
    return false;
  }

  clear(): void {
    this.marks.clear();
    this.grow(-this.bytes);
  }

  private drop(key: string): void {
    if (this.marks.delete(key)) this.grow(-markBytes(key));
  }

  private grow(delta: number): void {
    this.bytes += delta;
    this.account(delta);
  }
}

function markBytes(key: string): number {
  return MARK_BYTES + stringBytes(key);
}
