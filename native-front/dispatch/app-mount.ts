// An `apps` mount on the front: the MountHandler the router calls for dynamic requests. It copies
// the request out of uWS synchronously and hands it to the mount's daemon pool.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { DaemonPool } from '../../daemon/pool/pool.js';
import type { PoolStats } from '../../daemon/pool/types.js';
import { checkApp as checkInWorker, type CheckOptions } from '../../daemon/pool/check.js';
import type { ResolvedApp, ResolvedVhost } from '../../shared/config/types.js';
import type { ErrorLog, MountHandler, RequestContext } from '../mount.js';
import { sendStatus } from '../respond.js';
import { headersTooLarge, MAX_HEADER_BYTES } from '../ops/limits.js';
import { FrontExchange, type MountShared } from './front-exchange.js';

export type { PoolStats } from '../../daemon/pool/types.js';

export interface AppMount extends MountHandler {
  /** Set when the app failed to load: logged at startup; the mount answers 503. */
  readonly loadError?: string;
  stats(): PoolStats;
  /** Start fresh workers, then retire the old ones gracefully (reload, code change). */
  roll(): Promise<void>;
}

export interface AppMountDeps {
  log: ErrorLog;
  vhost: ResolvedVhost;
  /** Where compiled TypeScript/JSX goes (loadApp's cacheDir). */
  cacheDir?: string;
}

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

class UwsAppMount implements AppMount, MountShared {
  readonly log: ErrorLog;
  readonly vhostName: string;
  readonly mountLabel: string;
  readonly maxBodySize: number;
  private readonly fallbackHost: string;

  constructor(
    readonly cfg: ResolvedApp,
    deps: AppMountDeps,
    readonly pool: DaemonPool,
  ) {
    this.log = deps.log;
    this.vhostName = deps.vhost.serverNames[0] ?? '*';
    this.mountLabel = cfg.url || '/';
    this.maxBodySize = cfg.maxBodySize > 0 ? cfg.maxBodySize : Number.MAX_SAFE_INTEGER;
    const named = deps.vhost.serverNames.find((n) => n !== '*' && !n.includes('*'));
    this.fallbackHost = named ?? `localhost:${deps.vhost.listen.port}`;
  }

  get loadError(): string | undefined {
    return this.pool.loadError || undefined;
  }

  handle(res: HttpResponse, req: HttpRequest, ctx: RequestContext): void {
    if (this.pool.loadError) {
      ctx.done(503, sendStatus(res, 503, { headers: { 'Retry-After': '5' }, head: ctx.method === 'head' }));
      return;
    }
    const method = appMethod(ctx.method);
    const cl = req.getHeader('content-length');
    const te = req.getHeader('transfer-encoding');
    let hasBody = false;
    if (cl !== '') {
      const n = Number(cl);
      if (!Number.isSafeInteger(n) || n < 0) {
        ctx.done(400, sendStatus(res, 400, { close: true }));
        return;
      }
      if (n > this.maxBodySize) {
        this.log.warn('request body over maxBodySize', { vhost: this.vhostName, mount: this.mountLabel, requestId: ctx.requestId, contentLength: n, limit: this.maxBodySize });
        ctx.done(413, sendStatus(res, 413, { close: true }));
        return;
      }
      hasBody = n > 0;
    } else if (te !== '') hasBody = true;
    // A body on GET/HEAD cannot be given to a Request; uWS still reads and discards it.
    if (hasBody && (method === 'GET' || method === 'HEAD')) hasBody = false;

    collecting = [];
    req.forEach(collect);
    const headers = collecting;
    collecting = [];
    if (headersTooLarge(headers)) {
      this.log.warn('request header fields too large', { vhost: this.vhostName, mount: this.mountLabel, requestId: ctx.requestId, limit: MAX_HEADER_BYTES });
      ctx.done(431, sendStatus(res, 431, { close: true, head: method === 'HEAD' }));
      return;
    }

    const host = ctx.host !== '' ? ctx.host : this.fallbackHost;
    const url = (ctx.secure ? 'https://' : 'http://') + host + ctx.url + (ctx.query !== '' ? '?' + ctx.query : '');
    const ex = new FrontExchange(this, res, ctx, method, url, headers, hasBody);
    res.onAborted(() => ex.onAborted());
    if (hasBody) res.onData((chunk, isLast) => ex.onData(chunk, isLast));
    this.pool.submit(ex);
  }

  stats(): PoolStats {
    return this.pool.stats();
  }

  roll(): Promise<void> {
    return this.pool.roll();
  }

  close(deadlineMs?: number): Promise<void> {
    return this.pool.close(deadlineMs);
  }
}

/** Starts the mount's pool (loading the app in every worker) and returns its handler. Never throws for a bad app. */
export async function createAppMount(cfg: ResolvedApp, deps: AppMountDeps): Promise<AppMount> {
  const vhostName = deps.vhost.serverNames[0] ?? '*';
  const pool = new DaemonPool(
    cfg,
    {
      info: (msg, f) => deps.log.info(msg, { vhost: vhostName, ...f }),
      warn: (msg, f) => deps.log.warn(msg, { vhost: vhostName, ...f }),
      error: (msg, f) => deps.log.error(msg, { vhost: vhostName, ...f }),
    },
    { cacheDir: deps.cacheDir },
  );
  // A load error is kept on the mount (loadError) for the caller to report; the mount answers 503.
  await pool.start();
  return new UwsAppMount(cfg, deps, pool);
}

/** `hostd check`: loads the module once in a worker; resolves with the load error or undefined. */
export function checkApp(cfg: ResolvedApp, opts: CheckOptions = {}): Promise<string | undefined> {
  return checkInWorker(cfg, opts);
}
