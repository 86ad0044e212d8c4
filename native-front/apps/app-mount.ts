// An `apps` mount on the front: the MountHandler the router calls for dynamic requests. It checks
// the request's framing (what uWS v20.30 would let through: http/framing.ts), copies the request
// out of uWS synchronously and hands it to the mount's pool dispatcher on this front.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Dispatcher } from '../../daemon/dispatch/dispatcher.js';
import type { ResolvedApp, ResolvedVhost } from '../../shared/config/types.js';
import type { Logger } from '../../shared/log.js';
import { sendStatus } from '../http/answer.js';
import { framing, refuseAndClose, refusedFraming } from '../http/framing.js';
import type { MountHandler, RequestContext } from '../routing/mount.js';
import { headerBytes, MAX_HEADER_BYTES } from '../http/limits.js';
import { HeaderSnapshot, ResponseCache, sendHit, writeHit, type CacheStats, type Filler, type Lookup } from '../cache/index.js';
import { CacheTap, fillHeaders, RefreshExchange } from './cached.js';
import { FillExchange } from './fill-exchange.js';
import { FrontExchange, type MountShared } from './front-exchange.js';

/**
 * The method as the app sees it. uWS v20.30 reports it lowercased (getCaseSensitiveMethod() too),
 * so the client's spelling is lost. Methods are uppercase by convention (every standard one is,
 * and frameworks route on "GET", "PATCH", ...), so the app gets the uppercase form.
 */
function appMethod(m: string): string {
  // A switch, not a lookup table: uWS hands over a fresh string, and a keyed load with it would
  // first have to find it in V8's string table.
  switch (m) {
    case 'get':
      return 'GET';
    case 'post':
      return 'POST';
    case 'head':
      return 'HEAD';
    case 'put':
      return 'PUT';
    case 'delete':
      return 'DELETE';
    case 'patch':
      return 'PATCH';
    case 'options':
      return 'OPTIONS';
    default:
      return m.toUpperCase();
  }
}

// req.forEach without a closure per request: the callback appends to whichever array is current.
let collecting: string[] = [];
const collect = (k: string, v: string): void => {
  collecting.push(k, v);
};

const BODY_SWEEP_MS = 250;

/** The vhost's first plain name, else localhost with its port: what request.url says without a Host. */
export function fallbackHost(vhost: ResolvedVhost): string {
  return vhost.serverNames.find((n) => n !== '*' && !n.includes('*')) ?? `localhost:${vhost.listen.port}`;
}

export class AppMount implements MountHandler, MountShared {
  readonly maxBodySize: number;
  readonly bufferBody: number;
  /** Requests whose body is still arriving (bodyTimeout). */
  private readonly receiving = new Set<FrontExchange>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    readonly cfg: ResolvedApp,
    /** The host apps see in request.url when the client sent no Host (see fallbackHost()). */
    private readonly fallbackHost: string,
    readonly dispatcher: Dispatcher,
    readonly log: Logger,
  ) {
    this.maxBodySize = cfg.maxBodySize > 0 ? cfg.maxBodySize : Number.MAX_SAFE_INTEGER;
    this.bufferBody = cfg.bufferBody;
    this.cache = cfg.cache ? ResponseCache.fromConfig(cfg.cache, cfg.compression) : null;
  }

  /** The mount's response cache on this front (`cache:` on the mount), or null. */
  readonly cache: ResponseCache | null;

  /** Refuses the request before any app sees it; nothing after it on the connection is parsed (framing.ts). */
  private refuse(res: HttpResponse, ctx: RequestContext, status: number, why: string, extra?: Record<string, unknown>): void {
    this.log.warn(why, { requestId: ctx.requestId, status, ...extra });
    refuseAndClose(res, status, ctx.method === 'head', (s, bytes) => ctx.done(s, bytes));
  }

  handle(res: HttpResponse, req: HttpRequest, ctx: RequestContext): void {
    let lookup: Lookup | null = null;
    if (this.cache !== null) {
      lookup = this.cache.lookup(ctx.method, ctx.host, ctx.query !== '' ? `${ctx.url}?${ctx.query}` : ctx.url, req, ctx.secure);
      if (lookup.kind === 'hit') {
        // A hit is answered inside the handler: a smuggled request behind it must be refused first.
        const bad = refusedFraming(req);
        if (bad !== '') return this.refuse(res, ctx, 400, `refused request framing: ${bad}`);
        // Answered by the front from memory, inside the handler (corked already): no worker, no copy.
        const w = writeHit(res, this.cache, lookup.entry, req, ctx.method === 'head', 'HIT');
        ctx.done(w.status, w.bytes);
        return;
      }
    }
    if (this.dispatcher.loadError) {
      // Answered at once, like a cache hit: a smuggled request behind it must be refused first.
      const bad = refusedFraming(req);
      if (bad !== '') return this.refuse(res, ctx, 400, `refused request framing: ${bad}`);
      ctx.done(503, sendStatus(res, 503, { headers: { 'Retry-After': '5' }, head: ctx.method === 'head', close: ctx.closeConnection }));
      return;
    }
    if (ctx.url.length + ctx.query.length > this.cfg.maxUrlLength) {
      return this.refuse(res, ctx, 414, 'request target over maxUrlLength', { limit: this.cfg.maxUrlLength });
    }
    collecting = [];
    req.forEach(collect);
    const headers = collecting;
    collecting = [];
    const frame = framing(headers);
    if (typeof frame === 'string') return this.refuse(res, ctx, 400, `refused request framing: ${frame}`);
    if (headerBytes(headers) > MAX_HEADER_BYTES) {
      return this.refuse(res, ctx, 431, 'request header fields too large', { limit: MAX_HEADER_BYTES });
    }
    if (frame.length > this.maxBodySize) {
      return this.refuse(res, ctx, 413, 'request body over maxBodySize', { contentLength: frame.length, limit: this.maxBodySize });
    }
    const method = appMethod(ctx.method);
    // A body on GET/HEAD cannot be given to a Request; uWS still reads and discards it.
    const hasBody = (frame.length > 0 || frame.chunked) && method !== 'GET' && method !== 'HEAD';
    const host = ctx.host !== '' ? ctx.host : this.fallbackHost;
    const url = (ctx.secure ? 'https://' : 'http://') + host + ctx.url + (ctx.query !== '' ? '?' + ctx.query : '');
    if (lookup !== null && lookup.kind !== 'bypass') return this.fromCache(res, req, ctx, lookup, method, url, headers);
    const ex = new FrontExchange(this, res, ctx, method, url, headers, hasBody);
    // Bypassed by the cache (a method, a Cookie, a Range or HEAD miss): the app answers, MISS.
    if (lookup !== null) ex.cacheHeader = this.cache!.header;
    res.onAborted(() => ex.onAborted());
    if (!hasBody) return this.submit(ex);
    res.onData((chunk, isLast) => ex.onData(chunk, isLast));
    this.receiving.add(ex);
    if (this.sweeper === null) {
      // Started with the first body and kept (a timer per request body would cost more than the sweep).
      this.sweeper = setInterval(() => this.sweepBodies(), BODY_SWEEP_MS);
      this.sweeper.unref();
    }
    // Bodies larger than bufferBody take a worker as soon as bufferBody bytes are in (onData).
    if (this.bufferBody === 0) this.submit(ex);
  }

  /** The cache said stale, fetch or wait (requests without a body: GET and HEAD). */
  private fromCache(
    res: HttpResponse,
    req: HttpRequest,
    ctx: RequestContext,
    first: Lookup,
    method: string,
    url: string,
    headers: string[],
  ): void {
    const cache = this.cache!;
    const isHead = method === 'HEAD';
    if (first.kind === 'stale') {
      if (first.refresh !== null) this.refresh(first.refresh, url, headers, ctx.requestId);
      const w = writeHit(res, cache, first.entry, req, isHead, 'STALE');
      ctx.done(w.status, w.bytes);
      return;
    }
    const snapshot = new HeaderSnapshot(headers);
    let gone = false;
    const ex = new FillExchange(this, res, ctx, method, url, headers);
    ex.cacheHeader = cache.header;
    res.onAborted(() => {
      gone = true;
      ex.onAborted();
    });
    const act = (r: Lookup): void => {
      if (gone) {
        if (r.kind === 'fetch') r.filler.abort();
        else if (r.kind === 'stale' && r.refresh !== null) this.refresh(r.refresh, url, headers, ctx.requestId);
        return;
      }
      switch (r.kind) {
        case 'wait':
          void r.promise.then(act);
          return;
        case 'hit':
        case 'stale': {
          if (r.kind === 'stale' && r.refresh !== null) this.refresh(r.refresh, url, headers, ctx.requestId);
          ex.finished = true;
          const w = sendHit(res, cache, r.entry, snapshot, isHead, r.kind === 'hit' ? 'HIT' : 'STALE');
          ctx.done(w.status, w.bytes);
          return;
        }
        case 'fetch':
          ex.tap = new CacheTap(cache, r.filler, snapshot);
          ex.headers = fillHeaders(r.filler, headers);
          return this.submit(ex);
        case 'bypass':
          return this.submit(ex);
      }
    };
    act(first);
  }

  /** Refreshes a stale entry in the background (stale-while-revalidate): a request with no client. */
  private refresh(filler: Filler, url: string, headers: string[], requestId: string): void {
    this.dispatcher.submit(new RefreshExchange(this.dispatcher, filler, this.log, 'GET', url, fillHeaders(filler, headers), requestId));
  }

  /** A reload rolled the app (same configuration): what it answered before may have changed. */
  reloaded(): void {
    this.cache?.clear();
  }

  purge(what: { url?: string; prefix?: string; host?: string }): number {
    if (this.cache === null) return 0;
    let n = 0;
    if (what.url !== undefined) n += this.cache.purge(what.url, what.host);
    if (what.prefix !== undefined) n += this.cache.purgePrefix(what.prefix, what.host);
    return n;
  }

  cacheStats(): CacheStats | null {
    return this.cache?.stats() ?? null;
  }

  submit(ex: FrontExchange): void {
    ex.submitted = true;
    this.dispatcher.submit(ex);
  }

  bodyDone(ex: FrontExchange): void {
    this.receiving.delete(ex);
  }

  /** Bodies arriving slower than bufferBody per bodyTimeout get 408 (slow clients cost memory, not workers). */
  private sweepBodies(): void {
    const now = performance.now();
    const limit = this.cfg.bodyTimeoutMs;
    for (const ex of this.receiving) {
      if (!ex.body.paused && now - ex.body.windowStart > limit) ex.bodyTooSlow(limit);
    }
  }

  close(): Promise<void> {
    // The pool (and this front's dispatcher for it) is closed by the control thread.
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    return Promise.resolve();
  }

  cut(): void {
    for (const ex of this.receiving) ex.bodyTooSlow(0);
  }
}
