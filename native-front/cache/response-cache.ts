// The front's response cache for one app mount: RFC 9111 shared-cache semantics, memory bounded
// by maxSize (least recently used out first), one origin fetch per key at a time.
//
// Independent of uWS and of the worker protocol. The caller (the app mount's dispatch) does:
//
//   const r = cache.lookup(ctx.method, ctx.host, urlWithQuery, req, ctx.secure)   // synchronous
//   hit    -> writeHit(res, cache, r.entry, req, isHead, 'HIT')       // synchronous, one cork
//   stale  -> writeHit(..., 'STALE'); if r.refresh: send the same request to the app in the
//             background (no client) and feed r.refresh (stale-while-revalidate)
//   fetch  -> send the request to the app with r.filler.applyTo(headers) and feed the filler
//             with what comes back while streaming it to the client; filler.head()'s decision
//             may instead say "answer from this entry" (a 304 renewed it, or stale-if-error)
//   wait   -> another request is fetching this URL, or the coding this client wants is being
//             made (entry.ready): await r.promise, then act on what it resolves to
//   bypass -> not cacheable (method, Cookie, Range or HEAD on a miss): send to the app as usual
//
// Every Filler handed out must be finished with end() or abort(), or the URL's other requests
// wait for it until lockTimeout.
//
// Rules chosen (docs/config.md "Response cache"):
// - Stored: GET responses the library (http-cache-semantics, shared cache) finds storable
//   *and* that carry explicit freshness (s-maxage, max-age, Expires) or no-cache with a
//   validator; no heuristic freshness (as nginx: a response that says nothing is not cached).
//   Never stored: Set-Cookie, private, no-store, Vary: *, 206, bodies over maxObjectSize.
// - Authorization: such requests always go to the app (never answered from the shared cache);
//   their responses are stored only with public, s-maxage or must-revalidate (RFC 9111 §3.5).
// - Cookie: requests with one bypass the cache entirely, unless `cookies: 'ignore'`.
// - Request Cache-Control/Pragma (no-cache, max-age=0) are ignored, as nginx and Varnish do:
//   a client cannot force app calls (a browser's reload is answered by the cache).
// - Unsafe methods (POST, PUT, PATCH, DELETE) invalidate the URL's entries (RFC 9111 §4.4).
// - Vary: entries per variant; Accept-Encoding is normalised to the coding the client would
//   get (br / gzip / identity), and dropped from the key for identity bodies, since the cache
//   serves every coding of those itself.
// - Coalescing: while one request fetches a key, others wait (not for Range/HEAD requests, not
//   past lockTimeout); when the fetch fails or its client goes away, the first waiter fetches in
//   its place. A response found uncacheable marks the key "pass" for passTtl (Varnish's
//   hit-for-miss) so later requests for it go straight to the app in parallel, not one by one.
//
// The parts: keys.ts (variants, pass marks), storage.ts (slots and the LRU), policy.ts (what to
// store, freshness, 304 renewal), filler.ts (one origin fetch), purge.ts, stats.ts, entry.ts
// (one stored response and its compressed forms), write-hit.ts (an entry into a uWS response).
import { DEFAULT_COMPRESSION, type CompressionSettings } from '../../shared/compress/index.js';
import type { ResolvedCache, ResolvedCompression } from '../../shared/config/types.js';
import { CachedEntry, type EntryOwner } from './entry.js';
import { Filler, type FillDecision, type Waiter } from './filler.js';
import { HeaderSnapshot, type RequestView } from './headers.js';
import { requestKey, sameVariant, selects, varyValue, type CacheKey } from './keys.js';
import { planStore, renewal, type StorePlan } from './policy.js';
import { purgeAll, purgePrefix, purgeUrl } from './purge.js';
import { CacheCounters, type CacheStats } from './stats.js';
import { CacheStorage } from './storage.js';

export { Filler, STRIPPED_REQUEST_HEADERS } from './filler.js';
export type { CacheStats, FillDecision };

export interface ResponseCacheOptions {
  /** Bytes held: everything the cache keeps, bookkeeping included (memory.ts). */
  maxSize: number;
  /** Largest body stored; default maxSize / 8. */
  maxObjectSize?: number;
  /** X-Cache header name; null for none. Default "X-Cache". */
  header?: string | null;
  cookies?: 'bypass' | 'ignore';
  /** Waiters give up on another request's fetch after this long. Default 5 s. */
  lockTimeoutMs?: number;
  /** How long a key stays "pass" after an uncacheable answer. Default 120 s. */
  passTtlMs?: number;
  /** Compression of stored bodies (their br/gzip forms). */
  compression?: CompressionSettings;
  /** The clock (ms since the epoch); tests pass their own. */
  now?: () => number;
}

export type Lookup =
  | { readonly kind: 'hit'; readonly entry: CachedEntry }
  | { readonly kind: 'stale'; readonly entry: CachedEntry; readonly refresh: Filler | null }
  | { readonly kind: 'fetch'; readonly filler: Filler }
  | { readonly kind: 'wait'; readonly promise: Promise<Lookup> }
  | { readonly kind: 'bypass' };

const BYPASS: Lookup = Object.freeze({ kind: 'bypass' });
const UNSAFE = new Set(['post', 'put', 'patch', 'delete']);
const MAX_VARIANTS = 64;

export class ResponseCache implements EntryOwner {
  readonly maxSize: number;
  readonly maxObjectSize: number;
  readonly header: string | null;
  readonly cookies: 'bypass' | 'ignore';
  readonly lockTimeoutMs: number;
  readonly passTtlMs: number;
  readonly compression: CompressionSettings;
  readonly now: () => number;

  private readonly storage: CacheStorage;
  /** @internal The counters of stats(); the filler counts too. */
  readonly counts = new CacheCounters();
  /** The hit result, reused: read it synchronously (writeHit) and let go. */
  private readonly hit: { kind: 'hit'; entry: CachedEntry } = { kind: 'hit', entry: null! };

  constructor(opts: ResponseCacheOptions) {
    this.maxSize = opts.maxSize;
    this.maxObjectSize = Math.min(opts.maxObjectSize ?? Math.floor(opts.maxSize / 8), opts.maxSize);
    this.header = opts.header === undefined ? 'X-Cache' : opts.header;
    this.cookies = opts.cookies ?? 'bypass';
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 5000;
    this.passTtlMs = opts.passTtlMs ?? 120_000;
    this.compression = opts.compression ?? DEFAULT_COMPRESSION;
    this.now = opts.now ?? Date.now;
    this.storage = new CacheStorage(this.maxSize);
  }

  /** From an app mount's resolved `cache` (and `compression`) settings. */
  static fromConfig(cfg: ResolvedCache, compression?: ResolvedCompression, extra: Partial<ResponseCacheOptions> = {}): ResponseCache {
    return new ResponseCache({
      maxSize: cfg.maxSize,
      maxObjectSize: cfg.maxObjectSize,
      header: cfg.header,
      cookies: cfg.cookies,
      lockTimeoutMs: cfg.lockTimeoutMs,
      compression,
      ...extra,
    });
  }

  // ---- lookup: the synchronous part of every request ----

  /**
   * What to do with a request. `method` as uWS gives it (lowercase; uppercase works too),
   * `host` the Host header, `url` the path with its query ("/a?b=1"), `req` the live request
   * (or a HeaderSnapshot), `secure` whether the client used https (after --trust-proxy): keys
   * are per scheme. A 'hit' result object is reused by the next lookup.
   */
  lookup(method: string, host: string, url: string, req: RequestView, secure = false): Lookup {
    const isGet = method === 'get' || method === 'GET';
    const isHead = !isGet && (method === 'head' || method === 'HEAD');
    if (!isGet && !isHead) {
      if (UNSAFE.has(method.toLowerCase())) this.purge(url, host);
      this.counts.bypasses++;
      return BYPASS;
    }
    if (this.cookies === 'bypass' && req.getHeader('cookie') !== '') {
      this.counts.bypasses++;
      return BYPASS;
    }
    return this.lookupKey(method, isHead, requestKey(secure, host, url), req);
  }

  private lookupKey(method: string, isHead: boolean, key: CacheKey, req: RequestView): Lookup {
    const isGet = !isHead;
    if (req.getHeader('authorization') !== '') {
      // Never answered from the shared cache; stored only if the response allows it (§3.5).
      if (isHead || req.getHeader('range') !== '') {
        this.counts.bypasses++;
        return BYPASS;
      }
      this.counts.misses++;
      return { kind: 'fetch', filler: new Filler(this, 'pass', key, HeaderSnapshot.of(req), null) };
    }
    const slot = this.storage.slot(key.host, key.url);
    const now = this.now();
    if (slot !== undefined) {
      const e = slot.entries.length === 0 ? null : this.storage.match(slot, key, req);
      if (e !== null) {
        if (now < e.freshUntil) {
          if (e.incomplete && !isHead) {
            const making = this.coding(e, req);
            if (making !== null) return making;
          }
          this.storage.touch(e);
          this.counts.hits++;
          this.hit.entry = e;
          return this.hit;
        }
        if (now < e.swrUntil) {
          this.storage.touch(e);
          this.counts.staleServes++;
          let refresh: Filler | null = null;
          if (isGet && (slot.fill === null || slot.fill.expired(now))) {
            refresh = new Filler(this, 'refresh', key, HeaderSnapshot.of(req), e);
            slot.fill = refresh;
            this.counts.refreshes++;
          }
          return { kind: 'stale', entry: e, refresh };
        }
        if (!isHead && req.getHeader('range') === '') {
          if (slot.fill !== null && !slot.fill.expired(now)) return this.wait(slot.fill, method, key, req);
          // Stale: revalidate (conditional request when it has a validator); others wait.
          const f = new Filler(this, 'fill', key, HeaderSnapshot.of(req), e);
          slot.fill = f;
          this.counts.misses++;
          return { kind: 'fetch', filler: f };
        }
      }
    }
    if (isHead || req.getHeader('range') !== '') {
      this.counts.bypasses++;
      return BYPASS;
    }
    if (slot !== undefined && slot.fill !== null && !slot.fill.expired(now)) return this.wait(slot.fill, method, key, req);
    this.counts.misses++;
    if (this.storage.marks.has(key.host, key.url, now))
      return { kind: 'fetch', filler: new Filler(this, 'pass', key, HeaderSnapshot.of(req), null) };
    const f = new Filler(this, 'fill', key, HeaderSnapshot.of(req), null);
    this.storage.slotFor(key.host, key.url).fill = f;
    return { kind: 'fetch', filler: f };
  }

  // ---- purge ----

  /**
   * Removes the entries of one URL (path and query; its other spellings too: keys.ts), of both
   * schemes; of every host when `host` is not given.
   */
  purge(url: string, host?: string): number {
    const n = purgeUrl(this.storage, url, host);
    this.counts.purged += n;
    return n;
  }

  /** Removes the entries whose URL starts with `prefix`. */
  purgePrefix(prefix: string, host?: string): number {
    const n = purgePrefix(this.storage, prefix, host);
    this.counts.purged += n;
    return n;
  }

  /** Removes everything (a reload of the mount). Fills in flight store nothing. */
  clear(): number {
    const n = purgeAll(this.storage);
    this.counts.purged += n;
    return n;
  }

  stats(): CacheStats {
    return this.counts.stats(this.storage.entries, this.storage.total, this.storage.evictions);
  }

  // ---- for Filler and CachedEntry ----

  /** @internal */
  grew(e: CachedEntry, delta: number): void {
    this.storage.grew(e, delta);
  }

  /** @internal A fill that ended with a storable response. */
  store(f: Filler, plan: StorePlan, body: Buffer): CachedEntry | null {
    // Purged (or cleared) while fetching: the answer may predate the purge.
    if (f.doomed) return null;
    const candidate = plan.candidateUnlessSmall && body.length >= this.compression.minSize;
    const varyValues = plan.varyNames.map((n) => varyValue(n, f.req.getHeader(n)));
    const e = new CachedEntry(
      this,
      f.key,
      plan.varyNames,
      varyValues,
      plan.status,
      plan.headers,
      body,
      candidate,
      plan.directives.mustRevalidate || plan.directives.noCache,
    );
    e.setFreshness(plan.freshness);
    // The new response replaces the variant it answers for, and the entry it refreshed.
    const existing = this.storage.slot(f.host, f.url);
    if (existing !== undefined) {
      for (const old of [...existing.entries]) {
        if (old === f.stale || sameVariant(old, f.key, varyValues, plan.varyNames)) this.storage.remove(old, false);
      }
      if (existing.entries.length >= MAX_VARIANTS) this.storage.remove(existing.entries[0], false);
    }
    this.storage.add(e);
    this.counts.stores++;
    if (e.candidate) e.ready(f.req.getHeader('accept-encoding')); // the coding the next hits likely want

    return e.live ? e : null;
  }

  /** @internal A 304 answered the conditional request for `e`: merge its headers, renew. */
  renew(e: CachedEntry, headers304: Record<string, string>, req: HeaderSnapshot): void {
    const r = renewal(this, e, headers304, req);
    e.setHeaders(r.headers, r.candidate, r.mustRevalidate);
    e.setFreshness(r.freshness);
    this.counts.revalidations++;
    this.storage.touch(e);
  }

  /** @internal Whether (and how) to store a response (see policy.ts). */
  plan(f: Filler, status: number, headers: Record<string, string>, setCookie: boolean): StorePlan | null {
    return planStore(this, f.url, f.req, status, headers, setCookie);
  }

  /** @internal Remember that `key`'s URL answered uncacheably: no coalescing for passTtl. */
  markPass(key: CacheKey): void {
    this.storage.marks.set(key.host, key.url, this.now() + this.passTtlMs);
  }

  /** @internal Does the waiter's request select `e` (same request id, its Vary'd headers match)? */
  matches(e: CachedEntry, w: Pick<Waiter, 'key' | 'req'>): boolean {
    return selects(e, w.key, w.req);
  }

  /**
   * @internal A waiter's lookup after the fetch it waited for ended. Waiting again (for the
   * fetch another waiter just started) is not counted twice.
   */
  relookup(w: Pick<Waiter, 'method' | 'key' | 'req'>, waited = true): Lookup {
    const isHead = w.method === 'head' || w.method === 'HEAD';
    const r = this.lookupKey(w.method, isHead, w.key, w.req);
    if (r.kind === 'wait' && waited) this.counts.coalescedWaits--;
    return r.kind === 'hit' ? { kind: 'hit', entry: r.entry } : r; // the hit object is reused
  }

  /**
   * @internal What a request selecting `e` does now: a hit, or, while the compressed form it
   * wants is being made, a wait for that (then a hit with it).
   */
  answer(e: CachedEntry, w: Waiter): Lookup {
    if (e.incomplete && w.method !== 'head' && w.method !== 'HEAD') {
      const making = this.coding(e, w.req);
      if (making !== null) return making;
    }
    this.counts.hits++;
    return { kind: 'hit', entry: e };
  }

  /** @internal The fill `f` is over: its key no longer waits on it. */
  detach(f: Filler): void {
    this.storage.detach(f);
  }

  /** @internal */
  remove(e: CachedEntry, evicted: boolean): void {
    this.storage.remove(e, evicted);
  }

  /** A wait for the compressed form of `e` that `req` wants, when it is being made (see entry.ready). */
  private coding(e: CachedEntry, req: RequestView): Lookup | null {
    if (req.getHeader('range') !== '') return null; // ranges are served from the identity bytes
    const making = e.ready(req.getHeader('accept-encoding'));
    if (making === null) return null;
    const r = HeaderSnapshot.of(req);
    return { kind: 'wait', promise: making.then(() => this.relookup({ method: 'get', key: e.key, req: r }, false)) };
  }

  private wait(fill: Filler, method: string, key: CacheKey, req: RequestView): Lookup {
    this.counts.coalescedWaits++;
    const snapshot = HeaderSnapshot.of(req);
    return { kind: 'wait', promise: new Promise<Lookup>((resolve) => fill.waiters.push({ method, key, req: snapshot, resolve })) };
  }
}
