// One origin fetch on behalf of the cache: the conditional headers it adds, the decision it takes
// on the response head (store it, pass it on, answer from an entry instead), the body it
// collects (up to maxObjectSize), and what the requests that waited for it do next.
import type { CachedEntry, XCacheLabel } from './entry.js';
import { responseHeaderObject, type HeaderSnapshot } from './headers.js';
import type { CacheKey } from './keys.js';
import { clientNotModified, validatorMatches, type StorePlan } from './policy.js';
import type { Lookup, ResponseCache } from './response-cache.js';

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

/** Request headers the cache keeps from the origin: it needs full, unconditional answers. */
export const STRIPPED_REQUEST_HEADERS: readonly string[] = [
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
];

/** A request waiting for a fill of its URL. */
export interface Waiter {
  method: string;
  key: CacheKey;
  req: HeaderSnapshot;
  resolve(l: Lookup): void;
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
    readonly key: CacheKey,
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

  /** The slot's host and URL (normalised). */
  get host(): string {
    return this.key.host;
  }

  get url(): string {
    return this.key.url;
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
    const stale = this.stale?.live ? this.stale : null;

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
      if (this.purpose !== 'refresh') cache.counts.staleServes++;
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
        if (!this.doomed) cache.markPass(this.key);
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
      this.cache.counts.abandoned++;
      this.cache.markPass(this.key);
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
   *
   * The requests that waited for this fetch look up again: the first one fetches in its place
   * and the others wait for it (as nginx's cache lock and Varnish do), so a client that goes
   * away, or one failed app call, does not send every waiter to the app at once.
   */
  abort(_err?: unknown): CachedEntry | null {
    if (this.state === 'done') return null;
    const before = this.state === 'new';
    this.state = 'done';
    this.chunks = [];
    this.whole = null;
    const stale = this.stale?.live && this.cache.now() < this.stale.sieUntil ? this.stale : null;
    this.finish(stale !== null ? 'stale' : 'relookup', stale);
    if (before && stale !== null && this.purpose !== 'refresh') {
      this.cache.counts.staleServes++; // a client is answered with it (a refresh has none)
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
        this.cache.counts.staleServes++;
        w.resolve({ kind: 'stale', entry, refresh: null });
      } else if (mode === 'relookup') {
        // The response just fetched answers the requests that waited for it, even one that is
        // stale at once (max-age=0, no-cache): it is as fresh as a revalidation would make it.
        if (entry?.live && this.cache.matches(entry, w)) {
          w.resolve(this.cache.answer(entry, w));
          continue;
        }
        w.resolve(this.cache.relookup(w));
      } else {
        this.cache.counts.misses++;
        w.resolve({ kind: 'fetch', filler: new Filler(this.cache, 'pass', w.key, w.req, null) });
      }
    }
  }
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
