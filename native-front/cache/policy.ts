// What the cache decides from a response's headers: whether and how to store it (a StorePlan),
// its freshness, how a 304 renews a stored response, and which validators match. Freshness
// lifetimes and storability come from http-cache-semantics (shared cache, no heuristics); the
// rest (stale-* windows, no-cache and must-revalidate) from our own directive parser.
import CachePolicy from 'http-cache-semantics';
import { isCompressionCandidate, type CompressionSettings } from '../../shared/compress/index.js';
import { noneMatch, notModifiedSince } from '../static/conditional.js';
import { parseDirectives, type Directives } from './directives.js';
import type { CachedEntry, Freshness } from './entry.js';
import { NOT_STORED, unsafeHeaderText, type HeaderSnapshot } from './headers.js';
import { parseVary } from './keys.js';

/** What head() decided to store, kept until the body is complete. */
export interface StorePlan {
  status: number;
  headers: string[];
  varyNames: string[];
  freshness: Freshness;
  directives: Directives;
  candidateUnlessSmall: boolean;
  contentLength: number;
}

/** The cache settings a plan depends on. */
export interface PlanContext {
  readonly maxObjectSize: number;
  readonly compression: CompressionSettings;
  readonly now: () => number;
}

/** Response headers a 304 may not change in the stored response (RFC 9111 §3.2). */
const KEPT_ON_304 = new Set(['content-length', 'content-encoding', 'transfer-encoding', 'content-range', 'content-type']);
const POLICY_OPTIONS = { shared: true, cacheHeuristic: 0, immutableMinTimeToLive: 0 };

function freshness(policy: CachePolicy, d: Directives, now: number): Freshness {
  const age = policy.age();
  const lifetime = policy.maxAge();
  const freshUntil = now + Math.max(0, lifetime - age) * 1000;
  const mayServeStale = !d.mustRevalidate && !d.noCache;
  return {
    responseTime: now,
    initialAge: Math.max(0, Math.floor(age)),
    freshUntil,
    swrUntil: mayServeStale ? freshUntil + d.staleWhileRevalidate * 1000 : freshUntil,
    sieUntil: mayServeStale ? freshUntil + d.staleIfError * 1000 : freshUntil,
  };
}

/**
 * Whether (and how) to store a response to `url` requested with `req`, from its status and
 * headers. Null: not storable, with the reason being one of the rules in response-cache.ts.
 */
export function planStore(
  c: PlanContext,
  url: string,
  req: HeaderSnapshot,
  status: number,
  headers: Record<string, string>,
  setCookie: boolean,
): StorePlan | null {
  if (setCookie || status === 206 || headers['content-range'] !== undefined) return null;
  const d = parseDirectives(headers['cache-control']);
  if (d.noStore || d.private) return null;
  const varyNames = parseVary(headers.vary ?? '');
  if (varyNames === null) return null; // Vary: *
  const explicit = d.sMaxAge >= 0 || d.maxAge >= 0 || headers.expires !== undefined || d.noCache;
  if (!explicit) return null;
  const policy = new CachePolicy({ url, method: 'GET', headers: req.toObject() }, { status, headers }, POLICY_OPTIONS);
  if (!policy.storable()) return null;
  const cl = headers['content-length'];
  const contentLength = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : -1;
  if (contentLength > c.maxObjectSize) return null;
  const fr = freshness(policy, d, c.now());
  const hasValidator = headers.etag !== undefined || headers['last-modified'] !== undefined;
  if (fr.freshUntil <= fr.responseTime && !hasValidator && fr.swrUntil <= fr.responseTime && fr.sieUntil <= fr.responseTime) return null;
  const contentEncoding = headers['content-encoding'];
  // An identity body: the cache serves every coding itself, so Accept-Encoding need not split it.
  const identity = contentEncoding === undefined || contentEncoding === '' || contentEncoding.toLowerCase() === 'identity';
  const names = identity ? varyNames.filter((n) => n !== 'accept-encoding') : varyNames;
  const stored: string[] = [];
  for (const name in headers) {
    const v = headers[name];
    if (NOT_STORED.has(name) || unsafeHeaderText(name) || unsafeHeaderText(v)) continue;
    stored.push(name, v);
  }
  const candidateUnlessSmall = isCompressionCandidate(
    { contentType: headers['content-type'] ?? '', contentEncoding, cacheControl: headers['cache-control'], size: -1, status },
    c.compression,
  );
  return { status, headers: stored, varyNames: names, freshness: fr, directives: d, candidateUnlessSmall, contentLength };
}

/** A stored response as a 304 renews it: merged headers, compression candidacy, freshness. */
export interface Renewal {
  headers: string[];
  candidate: boolean;
  mustRevalidate: boolean;
  freshness: Freshness;
}

/** Merges a 304's headers into `e`'s (RFC 9111 §4.3.4) and computes its new freshness. */
export function renewal(c: PlanContext, e: CachedEntry, headers304: Record<string, string>, req: HeaderSnapshot): Renewal {
  const merged = e.headers.slice();
  for (const name in headers304) {
    if (NOT_STORED.has(name) || KEPT_ON_304.has(name) || unsafeHeaderText(name) || unsafeHeaderText(headers304[name])) continue;
    let i = 0;
    for (; i < merged.length; i += 2) if (merged[i] === name) break;
    if (i < merged.length) merged[i + 1] = headers304[name];
    else merged.push(name, headers304[name]);
  }
  const obj: Record<string, string> = {};
  for (let i = 0; i < merged.length; i += 2) obj[merged[i]] = merged[i + 1];
  const d = parseDirectives(obj['cache-control']);
  const policy = new CachePolicy(
    { url: e.url, method: 'GET', headers: req.toObject() },
    { status: e.status, headers: obj },
    POLICY_OPTIONS,
  );
  const candidate =
    e.candidate &&
    isCompressionCandidate(
      {
        contentType: obj['content-type'] ?? '',
        contentEncoding: obj['content-encoding'],
        cacheControl: obj['cache-control'],
        size: e.body.length,
        status: e.status,
      },
      c.compression,
    );
  return { headers: merged, candidate, mustRevalidate: d.mustRevalidate || d.noCache, freshness: freshness(policy, d, c.now()) };
}

/** Does a 304 describe the stored response (RFC 9111 §4.3.4)? */
export function validatorMatches(e: CachedEntry, h: Record<string, string>): boolean {
  const tag = h.etag;
  if (tag !== undefined) return e.etag !== '' && opaque(tag) === opaque(e.etag);
  const lm = h['last-modified'];
  if (lm !== undefined) return lm === e.lastModified;
  return true; // no validator in the 304: it answers the conditional request we made
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** The client's own conditional (stripped from the origin request) against the new response. */
export function clientNotModified(req: HeaderSnapshot, h: Record<string, string>): boolean {
  const inm = req.getHeader('if-none-match');
  if (inm !== '') return h.etag !== undefined && noneMatch(inm, h.etag);
  const ims = req.getHeader('if-modified-since');
  const lm = h['last-modified'];
  if (ims === '' || lm === undefined) return false;
  const t = Date.parse(lm);
  return !Number.isNaN(t) && notModifiedSince(ims, lm, t);
}
