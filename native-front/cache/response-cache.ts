// The front's response cache for one app mount: RFC 9111 shared-cache semantics, memory bounded
// by maxSize (least recently used out first), one origin fetch per key at a time.
//
// Independent of uWS and of the worker protocol. The caller (the app mount's dispatch) does:
//
//   const r = cache.lookup(ctx.method, ctx.host, urlWithQuery, req)   // synchronous
//   hit    -> writeHit(res, cache, r.entry, req, isHead, 'HIT')       // synchronous, one cork
//   stale  -> writeHit(..., 'STALE'); if r.refresh: send the same request to the app in the
//             background (no client) and feed r.refresh (stale-while-revalidate)
//   fetch  -> send the request to the app with r.filler.applyTo(headers) and feed the filler
//             with what comes back while streaming it to the client; filler.head()'s decision
//             may instead say "answer from this entry" (a 304 renewed it, or stale-if-error)
//   wait   -> another request is fetching this URL: await r.promise, then act on *its* result
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
//   past lockTimeout). A response found uncacheable marks the key "pass" for passTtl (Varnish's
//   hit-for-miss) so later requests for it go straight to the app in parallel, not one by one.
import CachePolicy from 'http-cache-semantics';
import { DEFAULT_COMPRESSION, isCompressionCandidate, negotiateCoding, type CompressionSettings } from '../../shared/compress/index.js';
import { noneMatch, notModifiedSince } from '../static/conditional.js';
import type { ResolvedCache, ResolvedCompression } from '../../shared/config/types.js';
import { parseDirectives, type Directives } from './directives.js';
import { CachedEntry, type EntryOwner, type Freshness, type XCacheLabel } from './entry.js';
import { HeaderSnapshot, NOT_STORED, responseHeaderObject, unsafeHeaderText, type RequestView } from './headers.js';

export interface ResponseCacheOptions {
  /** Bytes held (bodies, compressed forms, headers, bookkeeping). */
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

export interface CacheStats {
  entries: number;
  bytes: number;
  /** Answered from a fresh entry. */
  hits: number;
  /** Sent to the app by the cache (fills, revalidations, passes). */
  misses: number;
  /** Answered from a stale entry (stale-while-revalidate, stale-if-error). */
  staleServes: number;
  /** Requests that waited for another request's fetch of the same key. */
  coalescedWaits: number;
  /** Stale entries renewed by a 304. */
  revalidations: number;
  /** Background refreshes started (stale-while-revalidate). */
  refreshes: number;
  stores: number;
  evictions: number;
  purged: number;
  /** Fills given up because the body went over maxObjectSize. */
  abandoned: number;
  /** Requests the cache does not handle (methods, Cookie, Range/HEAD misses). */
  bypasses: number;
}

export type Lookup =
  | { readonly kind: 'hit'; readonly entry: CachedEntry }
  | { readonly kind: 'stale'; readonly entry: CachedEntry; readonly refresh: Filler | null }
  | { readonly kind: 'fetch'; readonly filler: Filler }
  | { readonly kind: 'wait'; readonly promise: Promise<Lookup> }
  | { readonly kind: 'bypass' };

/** What to do with the origin's response, decided at its head. */
export type FillDecision =
  /**
   * Forward it to the client (streaming). `store`: the cache keeps a copy (feed body/end).
   * `notModified`: the client's own If-None-Match / If-Modified-Since (stripped from the origin
   * request) matches this response: the caller may answer 304 (writeNotModified) instead of the
   * body while still feeding the body to the filler; forwarding the 200 is also correct.
   */
  | { readonly kind: 'stream'; readonly store: boolean; readonly notModified: boolean }
  /**
   * Answer the client from `entry` with writeHit (label MISS: a 304 renewed it; STALE: the
   * origin failed and stale-if-error allows it). Discard the origin's body.
   */
  | { readonly kind: 'serve'; readonly entry: CachedEntry; readonly label: XCacheLabel };

const STREAM: readonly FillDecision[] = [
  Object.freeze({ kind: 'stream', store: false, notModified: false }),
  Object.freeze({ kind: 'stream', store: false, notModified: true }),
  Object.freeze({ kind: 'stream', store: true, notModified: false }),
  Object.freeze({ kind: 'stream', store: true, notModified: true }),
];

const BYPASS: Lookup = Object.freeze({ kind: 'bypass' });
const UNSAFE = new Set(['post', 'put', 'patch', 'delete']);
/** Request headers the cache keeps from the origin: it needs full, unconditional answers. */
export const STRIPPED_REQUEST_HEADERS: readonly string[] = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range'];
/** Response headers a 304 may not change in the stored response (RFC 9111 §3.2). */
const KEPT_ON_304 = new Set(['content-length', 'content-encoding', 'transfer-encoding', 'content-range', 'content-type']);
const MAX_VARIANTS = 64;
const PASS_MARKS_MAX = 10_000;
const POLICY_OPTIONS = { shared: true, cacheHeuristic: 0, immutableMinTimeToLive: 0 };

interface Slot {
  entries: CachedEntry[];
  fill: Filler | null;
}

interface Waiter {
  method: string;
  host: string;
  url: string;
  req: HeaderSnapshot;
  resolve(l: Lookup): void;
}

/** What head() decided to store, kept until end(). */
interface StorePlan {
  status: number;
  headers: string[];
  varyNames: string[];
  freshness: Freshness;
  directives: Directives;
  candidateUnlessSmall: boolean;
  contentLength: number;
}

export class ResponseCache implements EntryOwner {
  readonly maxSize: number;
  readonly maxObjectSize: number;
  readonly header: string | null;
  readonly cookies: 'bypass' | 'ignore';
  readonly lockTimeoutMs: number;
  readonly passTtlMs: number;
  readonly compression: CompressionSettings;
  readonly now: () => number;

  private readonly hosts = new Map<string, Map<string, Slot>>();
  private readonly lru = new Set<CachedEntry>();
  private newest: CachedEntry | null = null;
  private readonly passMarks = new Map<string, number>();
  private total = 0;
  private readonly counts = {
    hits: 0, misses: 0, staleServes: 0, coalescedWaits: 0, revalidations: 0, refreshes: 0,
    stores: 0, evictions: 0, purged: 0, abandoned: 0, bypasses: 0,
  };
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
   * (or a HeaderSnapshot). A 'hit' result object is reused by the next lookup.
   */
  lookup(method: string, host: string, url: string, req: RequestView): Lookup {
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
    const hostKey = host.toLowerCase();
    if (req.getHeader('authorization') !== '') {
      // Never answered from the shared cache; stored only if the response allows it (§3.5).
      if (isHead || req.getHeader('range') !== '') {
        this.counts.bypasses++;
        return BYPASS;
      }
      this.counts.misses++;
      return { kind: 'fetch', filler: new Filler(this, 'pass', hostKey, url, HeaderSnapshot.of(req), null) };
    }
    const slot = this.hosts.get(hostKey)?.get(url);
    const now = this.now();
    if (slot !== undefined) {
      const e = slot.entries.length === 0 ? null : this.match(slot, req);
      if (e !== null) {
        if (now < e.freshUntil) {
          this.touch(e);
          this.counts.hits++;
          this.hit.entry = e;
          return this.hit;
        }
        if (now < e.swrUntil) {
          this.touch(e);
          this.counts.staleServes++;
          let refresh: Filler | null = null;
          if (isGet && (slot.fill === null || slot.fill.expired(now))) {
            refresh = new Filler(this, 'refresh', hostKey, url, HeaderSnapshot.of(req), e);
            slot.fill = refresh;
            this.counts.refreshes++;
          }
          return { kind: 'stale', entry: e, refresh };
        }
        if (!isHead && req.getHeader('range') === '') {
          if (slot.fill !== null && !slot.fill.expired(now)) return this.wait(slot.fill, method, hostKey, url, req);
          // Stale: revalidate (conditional request when it has a validator); others wait.
          const f = new Filler(this, 'fill', hostKey, url, HeaderSnapshot.of(req), e);
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
    if (slot !== undefined && slot.fill !== null && !slot.fill.expired(now)) return this.wait(slot.fill, method, hostKey, url, req);
    this.counts.misses++;
    const markKey = `${hostKey} ${url}`;
    const mark = this.passMarks.get(markKey);
    if (mark !== undefined) {
      if (now < mark) return { kind: 'fetch', filler: new Filler(this, 'pass', hostKey, url, HeaderSnapshot.of(req), null) };
      this.passMarks.delete(markKey);
    }
    const f = new Filler(this, 'fill', hostKey, url, HeaderSnapshot.of(req), null);
    this.slotFor(hostKey, url).fill = f;
    return { kind: 'fetch', filler: f };
  }

  // ---- purge ----

  /** Removes the entries of one URL (path and query, exactly); of every host when `host` is not given. */
  purge(url: string, host?: string): number {
    let n = 0;
    for (const [h, slots] of this.hostsFor(host)) {
      const slot = slots.get(url);
      if (slot !== undefined) n += this.purgeSlot(h, url, slot);
      this.passMarks.delete(`${h} ${url}`);
    }
    return n;
  }

  /** Removes the entries whose URL starts with `prefix`. */
  purgePrefix(prefix: string, host?: string): number {
    let n = 0;
    for (const [h, slots] of this.hostsFor(host)) {
      for (const [url, slot] of slots) if (url.startsWith(prefix)) n += this.purgeSlot(h, url, slot);
    }
    return n;
  }

  /** Removes everything (a reload of the mount). Fills in flight store nothing. */
  clear(): number {
    let n = 0;
    for (const [h, slots] of this.hosts) for (const [url, slot] of slots) n += this.purgeSlot(h, url, slot);
    this.passMarks.clear();
    return n;
  }

  stats(): CacheStats {
    return { entries: this.lru.size, bytes: this.total, ...this.counts };
  }

  // ---- for Filler and CachedEntry ----

  /** @internal */
  grew(e: CachedEntry, delta: number): void {
    if (!e.live) return;
    e.bytes += delta;
    this.total += delta;
    if (delta > 0) this.evict();
  }

  /** @internal A fill that ended with a storable response. */
  store(f: Filler, plan: StorePlan, body: Buffer): CachedEntry | null {
    // Purged (or cleared) while fetching: the answer may predate the purge.
    if (f.doomed) return null;
    const candidate = plan.candidateUnlessSmall && body.length >= this.compression.minSize;
    const varyValues = plan.varyNames.map((n) => varyValue(n, f.req.getHeader(n)));
    const e = new CachedEntry(this, f.host, f.url, plan.varyNames, varyValues, plan.status, plan.headers, body, candidate, plan.directives.mustRevalidate || plan.directives.noCache);
    e.setFreshness(plan.freshness);
    // The new response replaces the variant it answers for, and the entry it refreshed.
    const existing = this.hosts.get(f.host)?.get(f.url);
    if (existing !== undefined) {
      for (const old of [...existing.entries]) {
        if (old === f.stale || sameValues(old.varyValues, varyValues, old.varyNames, plan.varyNames)) this.remove(old, false);
      }
      if (existing.entries.length >= MAX_VARIANTS) this.remove(existing.entries[0], false);
    }
    const target = this.slotFor(f.host, f.url); // (removing the last entry may have dropped the slot)
    target.entries.push(e);
    this.lru.add(e);
    this.newest = e;
    this.total += e.bytes;
    this.counts.stores++;
    this.evict();
    return e.live ? e : null;
  }

  /** @internal A 304 answered the conditional request for `e`: merge its headers, renew. */
  renew(e: CachedEntry, headers304: Record<string, string>, req: HeaderSnapshot): void {
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
    const policy = new CachePolicy({ url: e.url, method: 'GET', headers: req.toObject() }, { status: e.status, headers: obj }, POLICY_OPTIONS);
    const candidate = e.candidate && isCompressionCandidate({ contentType: obj['content-type'] ?? '', contentEncoding: obj['content-encoding'], cacheControl: obj['cache-control'], size: e.body.length, status: e.status }, this.compression);
    e.setHeaders(merged, candidate, d.mustRevalidate || d.noCache);
    e.setFreshness(freshness(policy, d, this.now()));
    this.counts.revalidations++;
    this.touch(e);
  }

  /**
   * @internal Whether (and how) to store a response, from its status and headers. Null: not
   * storable, with the reason being one of the rules at the top of this file.
   */
  plan(f: Filler, status: number, headers: Record<string, string>, setCookie: boolean): StorePlan | null {
    if (setCookie || status === 206 || headers['content-range'] !== undefined) return null;
    const d = parseDirectives(headers['cache-control']);
    if (d.noStore || d.private) return null;
    const varyNames = parseVary(headers.vary ?? '');
    if (varyNames === null) return null; // Vary: *
    const explicit = d.sMaxAge >= 0 || d.maxAge >= 0 || headers.expires !== undefined || d.noCache;
    if (!explicit) return null;
    const policy = new CachePolicy({ url: f.url, method: 'GET', headers: f.req.toObject() }, { status, headers }, POLICY_OPTIONS);
    if (!policy.storable()) return null;
    const cl = headers['content-length'];
    const contentLength = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : -1;
    if (contentLength > this.maxObjectSize) return null;
    const fr = freshness(policy, d, this.now());
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
      this.compression,
    );
    return { status, headers: stored, varyNames: names, freshness: fr, directives: d, candidateUnlessSmall, contentLength };
  }

  /** @internal Remember that `host url` answered uncacheably: no coalescing for passTtl. */
  markPass(host: string, url: string): void {
    if (this.passMarks.size >= PASS_MARKS_MAX) this.passMarks.clear();
    this.passMarks.set(`${host} ${url}`, this.now() + this.passTtlMs);
  }

  /** @internal Does `req` select `e` (its Vary'd headers match)? */
  matches(e: CachedEntry, req: RequestView): boolean {
    const names = e.varyNames;
    for (let j = 0; j < names.length; j++) if (varyValue(names[j], req.getHeader(names[j])) !== e.varyValues[j]) return false;
    return true;
  }

  /** @internal */
  countHit(): void {
    this.counts.hits++;
  }

  /** @internal */
  countStale(): void {
    this.counts.staleServes++;
  }

  /** @internal */
  countAbandoned(): void {
    this.counts.abandoned++;
  }

  /** @internal */
  countMiss(): void {
    this.counts.misses++;
  }

  /** @internal The fill `f` is over: its key no longer waits on it. */
  detach(f: Filler): void {
    const slots = this.hosts.get(f.host);
    const slot = slots?.get(f.url);
    if (slot === undefined || slot.fill !== f) return;
    slot.fill = null;
    if (slot.entries.length === 0) this.dropSlot(f.host, f.url);
  }

  /** @internal */
  remove(e: CachedEntry, evicted: boolean): void {
    if (!e.live) return;
    e.live = false;
    this.lru.delete(e);
    if (this.newest === e) this.newest = null;
    this.total -= e.bytes;
    e.dropCoded();
    if (evicted) this.counts.evictions++;
    const slot = this.hosts.get(e.host)?.get(e.url);
    if (slot === undefined) return;
    const i = slot.entries.indexOf(e);
    if (i !== -1) slot.entries.splice(i, 1);
    if (slot.entries.length === 0 && slot.fill === null) this.dropSlot(e.host, e.url);
  }

  // ---- internals ----

  private match(slot: Slot, req: RequestView): CachedEntry | null {
    const list = slot.entries;
    for (let i = list.length - 1; i >= 0; i--) if (this.matches(list[i], req)) return list[i];
    return null;
  }

  private wait(fill: Filler, method: string, host: string, url: string, req: RequestView): Lookup {
    this.counts.coalescedWaits++;
    const snapshot = HeaderSnapshot.of(req);
    return { kind: 'wait', promise: new Promise<Lookup>((resolve) => fill.waiters.push({ method, host, url, req: snapshot, resolve })) };
  }

  private touch(e: CachedEntry): void {
    if (this.newest !== e) {
      this.lru.delete(e);
      this.lru.add(e);
      this.newest = e;
    }
  }

  private evict(): void {
    if (this.total <= this.maxSize) return;
    for (const victim of this.lru) {
      if (this.total <= this.maxSize) break;
      this.remove(victim, true);
    }
  }

  private slotFor(host: string, url: string): Slot {
    let slots = this.hosts.get(host);
    if (slots === undefined) this.hosts.set(host, (slots = new Map()));
    let slot = slots.get(url);
    if (slot === undefined) slots.set(url, (slot = { entries: [], fill: null }));
    return slot;
  }

  private dropSlot(host: string, url: string): void {
    const slots = this.hosts.get(host);
    if (slots === undefined) return;
    slots.delete(url);
    if (slots.size === 0) this.hosts.delete(host);
  }

  private hostsFor(host: string | undefined): [string, Map<string, Slot>][] {
    if (host === undefined) return [...this.hosts];
    const h = host.toLowerCase();
    const slots = this.hosts.get(h);
    return slots === undefined ? [] : [[h, slots]];
  }

  private purgeSlot(host: string, url: string, slot: Slot): number {
    const n = slot.entries.length;
    for (const e of [...slot.entries]) this.remove(e, false);
    this.counts.purged += n;
    if (slot.fill !== null) slot.fill.doomed = true;
    return n;
  }
}

/**
 * Feeds one origin response into the cache (see the ResponseCache header). Purposes: 'fill'
 * (others wait for it), 'refresh' (stale-while-revalidate, in the background), 'pass' (not
 * coalesced: an Authorization request, or a key marked pass; may still store).
 */
export class Filler {
  /** Conditional headers to add to the origin request (revalidating a stale entry), else null. */
  readonly conditional: Readonly<Record<string, string>> | null;
  /** Set when the key was purged meanwhile: nothing is stored. */
  doomed = false;
  /** @internal */
  readonly waiters: Waiter[] = [];
  private state: 'new' | 'collecting' | 'passing' | 'done' = 'new';
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | null = null;
  private planned: StorePlan | null = null;
  private chunks: Buffer[] = [];
  private whole: Buffer | null = null;
  private size = 0;

  /** @internal */
  constructor(
    private readonly cache: ResponseCache,
    readonly purpose: 'fill' | 'refresh' | 'pass',
    readonly host: string,
    readonly url: string,
    /** The request as it was when the fetch began (its headers decide Vary values). */
    readonly req: HeaderSnapshot,
    /** The stale entry this fetch revalidates (fill, refresh), if any. */
    readonly stale: CachedEntry | null,
  ) {
    this.startedAt = cache.now();
    let cond: Record<string, string> | null = null;
    if (stale !== null) {
      const etag = stale.etag;
      const lm = stale.lastModified;
      if (etag !== '') (cond ??= {})['if-none-match'] = etag;
      if (lm !== '') (cond ??= {})['if-modified-since'] = lm;
    }
    this.conditional = cond;
    if (purpose !== 'pass') {
      // Waiters give up after lockTimeout (nginx's proxy_cache_lock_timeout): they fetch themselves.
      this.timer = setTimeout(() => {
        this.timer = null;
        this.releaseWaiters('pass');
      }, cache.lockTimeoutMs);
      this.timer.unref();
    }
  }

  /**
   * The request headers to send to the origin: `flat` ([name, value, ...] as the client sent
   * them) minus the client's conditionals and Range (the cache wants a full answer), plus the
   * cache's own conditionals when revalidating. Returns a new array.
   */
  applyTo(flat: readonly string[]): string[] {
    const out: string[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (STRIPPED_REQUEST_HEADERS.includes(flat[i].toLowerCase())) continue;
      out.push(flat[i], flat[i + 1]);
    }
    if (this.conditional !== null) for (const k in this.conditional) out.push(k, this.conditional[k]);
    return out;
  }

  /** Past lockTimeout: lookups stop waiting on it (a hung app call must not block a key). */
  expired(now: number): boolean {
    return now - this.startedAt >= this.cache.lockTimeoutMs;
  }

  /** The origin's status and headers (flat [name, value, ...]). */
  head(status: number, headers: readonly string[]): FillDecision {
    if (this.state !== 'new') throw new Error(`Filler.head: already ${this.state}`);
    const cache = this.cache;
    const { headers: h, setCookie } = responseHeaderObject(headers);
    const stale = this.stale !== null && this.stale.live ? this.stale : null;

    if (status === 304 && stale !== null && this.conditional !== null) {
      if (validatorMatches(stale, h)) {
        cache.renew(stale, h, this.req);
        this.state = 'done';
        this.finish('relookup', stale);
        return { kind: 'serve', entry: stale, label: 'MISS' };
      }
      cache.remove(stale, false); // a 304 for something we do not hold: forget it
    }
    if (status >= 500 && stale !== null && cache.now() < stale.sieUntil) {
      if (this.purpose !== 'refresh') cache.countStale();
      this.state = 'done';
      this.finish('stale', stale);
      return { kind: 'serve', entry: stale, label: 'STALE' };
    }
    const notModified = status === 200 && clientNotModified(this.req, h);
    const plan = this.doomed ? null : cache.plan(this, status, h, setCookie);
    if (plan === null) {
      // An error says nothing about cacheability: no pass mark, and the stale entry stays
      // (still servable within stale-while-revalidate). Any other uncacheable answer does.
      if (status < 500) {
        if (!this.doomed) cache.markPass(this.host, this.url);
        if (stale !== null) cache.remove(stale, false);
      }
      this.state = 'passing';
      this.finish('pass');
      return STREAM[notModified ? 1 : 0];
    }
    this.planned = plan;
    this.state = 'collecting';
    if (plan.contentLength >= 0) this.whole = Buffer.allocUnsafeSlow(plan.contentLength);
    return STREAM[notModified ? 3 : 2];
  }

  /** A body chunk (copied; the caller may reuse its memory). Ignored unless storing. */
  body(chunk: Uint8Array): void {
    if (this.state !== 'collecting') return;
    const n = chunk.length;
    if (this.size + n > this.cache.maxObjectSize || (this.whole !== null && this.size + n > this.whole.length)) {
      // Over the per-object limit (or longer than its Content-Length): stop storing; the
      // response goes on to the client uncached.
      this.cache.countAbandoned();
      this.cache.markPass(this.host, this.url);
      this.chunks = [];
      this.whole = null;
      this.state = 'passing';
      this.finish('pass');
      return;
    }
    if (this.whole !== null) this.whole.set(chunk, this.size);
    else this.chunks.push(Buffer.from(chunk));
    this.size += n;
  }

  /** The origin's response is complete. */
  end(): void {
    if (this.state === 'new') {
      this.abort(new Error('Filler.end before head'));
      return;
    }
    if (this.state !== 'collecting') {
      this.state = 'done';
      return;
    }
    this.state = 'done';
    let body: Buffer;
    if (this.whole !== null) {
      if (this.size !== this.whole.length) {
        // Shorter than its Content-Length: a truncated response is not stored.
        this.whole = null;
        this.finish('pass');
        return;
      }
      body = this.whole;
    } else body = concatOwned(this.chunks, this.size);
    this.chunks = [];
    this.whole = null;
    this.finish('relookup', this.cache.store(this, this.planned!, body));
  }

  /**
   * The origin failed (error, timeout, client gone before the fetch finished). Returns the
   * stale entry to answer with when the failure came before the response head and
   * stale-if-error allows it (label STALE); else null (answer 502/504 as usual).
   */
  abort(_err?: unknown): CachedEntry | null {
    if (this.state === 'done') return null;
    const before = this.state === 'new';
    this.state = 'done';
    this.chunks = [];
    this.whole = null;
    const stale = this.stale !== null && this.stale.live && this.cache.now() < this.stale.sieUntil ? this.stale : null;
    this.finish(stale !== null ? 'stale' : 'pass', stale);
    if (before && stale !== null && this.purpose !== 'refresh') {
      this.cache.countStale(); // a client is answered with it (a refresh has none)
      return stale;
    }
    return null;
  }

  /** Leaves the key and tells the waiters what to do now. */
  private finish(mode: 'relookup' | 'stale' | 'pass', entry: CachedEntry | null = null): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.cache.detach(this);
    this.releaseWaiters(mode, entry);
  }

  private releaseWaiters(mode: 'relookup' | 'stale' | 'pass', entry: CachedEntry | null = null): void {
    const ws = this.waiters.splice(0);
    for (const w of ws) {
      if (mode === 'stale' && entry !== null) {
        this.cache.countStale();
        w.resolve({ kind: 'stale', entry, refresh: null });
      } else if (mode === 'relookup') {
        // The response just fetched answers the requests that waited for it, even one that is
        // stale at once (max-age=0, no-cache): it is as fresh as a revalidation would make it.
        if (entry !== null && entry.live && this.cache.matches(entry, w.req)) {
          this.cache.countHit();
          w.resolve({ kind: 'hit', entry });
          continue;
        }
        const r = this.cache.lookup(w.method, w.host, w.url, w.req);
        w.resolve(r.kind === 'hit' ? { kind: 'hit', entry: r.entry } : r); // the hit object is reused
      } else {
        this.cache.countMiss();
        w.resolve({ kind: 'fetch', filler: new Filler(this.cache, 'pass', w.host, w.url, w.req, null) });
      }
    }
  }
}

// ---- helpers ----

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

/** Lowercase field names of a Vary value; null for "*". */
function parseVary(v: string): string[] | null {
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
function varyValue(name: string, value: string): string {
  if (name === 'accept-encoding') return negotiateCoding(value) ?? '';
  return value.trim();
}

function sameValues(a: readonly string[], b: readonly string[], an: readonly string[], bn: readonly string[]): boolean {
  if (an.length !== bn.length) return false;
  for (let i = 0; i < an.length; i++) if (an[i] !== bn[i] || a[i] !== b[i]) return false;
  return true;
}

/** Does a 304 describe the stored response (RFC 9111 §4.3.4)? */
function validatorMatches(e: CachedEntry, h: Record<string, string>): boolean {
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
function clientNotModified(req: HeaderSnapshot, h: Record<string, string>): boolean {
  const inm = req.getHeader('if-none-match');
  if (inm !== '') return h.etag !== undefined && noneMatch(inm, h.etag);
  const ims = req.getHeader('if-modified-since');
  const lm = h['last-modified'];
  if (ims === '' || lm === undefined) return false;
  const t = Date.parse(lm);
  return !Number.isNaN(t) && notModifiedSince(ims, lm, t);
}

function concatOwned(chunks: Buffer[], size: number): Buffer {
  const out = Buffer.allocUnsafeSlow(size);
  let off = 0;
  for (const c of chunks) {
    c.copy(out, off);
    off += c.length;
  }
  return out;
}
