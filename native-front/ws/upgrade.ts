// WebSocket upgrades on a front. Every listener's uWS App routes upgrade requests here (uWS hands
// a GET with a Sec-WebSocket-Key to the ws route; other GETs go on to the router as usual).
// They are routed like requests: virtual host by Host, mount by longest prefix. Anything but an
// app mount (a static mount, no mount, a bad Host, an https redirect) is answered exactly as the
// same GET would be. On an app mount the upgrade is dispatched to the mount's pool like a request
// (same queue, same choice of worker, same timeouts), and the app decides: accept (wsAccept), or
// an ordinary response (401, 404, ...) that goes back on the upgrade request as HTTP.
//
// Before anything answers or dispatches an upgrade, its framing is checked as every request's is
// (http/framing.ts; it once skipped that check: issue 18 item 4) and an upgrade carrying a body is
// refused (the bytes after its head would be read as WebSocket frames); then the handshake itself
// (handshake.ts). Refusals go out as framing.ts refuses: on a later tick, closing the connection,
// so nothing sent behind the refused request is ever read as a request.
//
// uWS's HttpRequest lives only during this call: the key, the subprotocols, the extensions and
// the socket context are copied before anything asynchronous; onAborted is registered before the
// request leaves; res.upgrade() runs corked when the worker accepts.
import { performance } from 'node:perf_hooks';
import type { HttpRequest, HttpResponse, us_socket_context_t } from 'uWebSockets.js';
import type { WorkerLink } from '../../daemon/dispatch/worker-link.js';
import type { ResolvedApp, ResolvedMount, ResolvedVhost } from '../../shared/config/types.js';
import { CLOSE_ABNORMAL } from '../../shared/protocol/ws.js';
import { AppMount } from '../apps/app-mount.js';
import { FrontExchange } from '../apps/front-exchange.js';
import type { Listener } from '../front/listener.js';
import type { MountRoute, Router, VhostRoute } from '../routing/router.js';
import { peerAddress } from '../front/context.js';
import { sendStatus } from '../http/answer.js';
import { framing, refuseAndClose } from '../http/framing.js';
import { normalizePath } from '../http/path.js';
import type { RequestContext } from '../routing/mount.js';
import { headerBytes, MAX_HEADER_BYTES } from '../http/limits.js';
import { acceptRequestId, newRequestId } from '../http/request-id.js';
import { trackSocket, WsConn, type AccessBase, type ConnFront } from './conn.js';
import type { WsFront } from './front.js';
import { handshakeRefusal } from './handshake.js';
import type { WsPool } from './pool.js';

/** An upgrade request's state on the front until it is accepted or answered. */
class UpgradeContext implements RequestContext {
  readonly method = 'get';
  readonly query: string;
  readonly secure: boolean;
  readonly start = performance.now();
  readonly closeConnection: boolean;
  readonly requestId: string;
  readonly remoteAddress: string;
  private readonly referer: string;
  private readonly userAgent: string;
  private finished = false;
  /** A maxConnections slot is held (released when the request ends without a socket). */
  reserved = false;

  constructor(
    private readonly router: Router,
    readonly vhostRoute: VhostRoute,
    readonly route: MountRoute,
    readonly pool: WsPool | null,
    req: HttpRequest,
    res: HttpResponse,
    readonly host: string,
    readonly url: string,
    secure: boolean,
  ) {
    this.query = req.getQuery() ?? '';
    this.closeConnection = router.draining;
    this.requestId = acceptRequestId(req.getHeader('x-request-id')) ?? newRequestId();
    // Read once, up front: the app and the socket's log line both need it.
    const peer = peerAddress(res);
    const trust = router.trustProxy;
    if (trust) ({ address: this.remoteAddress, secure } = trust.origin(peer, req, secure));
    else this.remoteAddress = peer;
    this.secure = secure;
    this.referer = req.getHeader('referer');
    this.userAgent = req.getHeader('user-agent');
  }

  get knownRemoteAddress(): string {
    return this.remoteAddress;
  }
  get vhost(): ResolvedVhost {
    return this.vhostRoute.vhost;
  }
  get mount(): ResolvedMount {
    return this.route.mount;
  }

  /** What the socket's access-log line starts from (null without an access log). */
  accessBase(): AccessBase | null {
    if (this.router.accessLog === null) return null;
    return {
      vhost: this.vhostRoute.name,
      site: this.vhostRoute.site,
      port: this.vhostRoute.port,
      mount: this.route.mount.url,
      method: 'GET',
      url: this.query ? `${this.url}?${this.query}` : this.url,
      host: this.host,
      remoteAddress: this.remoteAddress,
      referer: this.referer,
      userAgent: this.userAgent,
      requestId: this.requestId,
    };
  }

  /** Answered over HTTP (refused by the app or by hostd, or the client left). */
  done(status: number, bytes: number): void {
    if (this.finished) return;
    this.finished = true;
    if (this.reserved) this.pool!.release();
    const durationMs = performance.now() - this.start;
    this.route.stats.record(status, bytes, durationMs);
    const base = this.accessBase();
    if (base !== null) this.router.accessLog!.write({ ...base, status, bytes, durationMs });
    this.router.requestDone();
  }

  /** Accepted: 101 counts as a response now; the access-log line comes when the socket closes. */
  accepted(): void {
    if (this.finished) return;
    this.finished = true;
    this.route.stats.record(101, 0, performance.now() - this.start);
    this.router.requestDone();
  }
}

interface Handshake {
  front: WsFront;
  pool: WsPool;
  listener: Listener;
  limits: ResolvedApp['websocket'];
  key: string;
  protocol: string;
  extensions: string;
  context: us_socket_context_t;
}

/** The upgrade request as its pool dispatches it: an ordinary exchange that can also be accepted. */
class UpgradeExchange extends FrontExchange {
  constructor(
    m: AppMount,
    private readonly upgradeRes: HttpResponse,
    private readonly uctx: UpgradeContext,
    url: string,
    headers: string[],
    private readonly hs: Handshake,
  ) {
    super(m, upgradeRes, uctx, 'GET', url, headers, false);
  }

  /** The worker accepted (its slot was released by the link): answer 101 and open the socket. */
  accepted(link: WorkerLink, id: number, headers: string[]): void {
    if (this.finished) {
      if (!link.gone) link.out.wsClosed(id, CLOSE_ABNORMAL, '');
      return;
    }
    this.finished = true;
    const hs = this.hs;
    const mount = hs.pool.mount!;
    const conn = new WsConn(hs.front as ConnFront, hs.pool, mount, link, id, hs.listener.app, hs.limits, this.uctx.accessBase());
    trackSocket(link, id, conn);
    this.uctx.accepted(); // the slot reserved for maxConnections is the socket's now
    let protocol = hs.protocol;
    const res = this.upgradeRes;
    res.cork(() => {
      res.writeStatus('101 Switching Protocols');
      for (let i = 0; i < headers.length; i += 2) {
        const k = headers[i];
        if (k === 'sec-websocket-protocol') protocol = headers[i + 1];
        else if (
          k !== 'upgrade' &&
          k !== 'connection' &&
          k !== 'sec-websocket-accept' &&
          k !== 'sec-websocket-extensions' &&
          k !== 'content-length'
        )
          res.writeHeader(k, headers[i + 1]);
      }
      // uWS writes Upgrade, Connection and Sec-WebSocket-Accept, answers the first subprotocol of
      // `protocol` and negotiates compression from `extensions` (empty: none); open runs inside.
      res.upgrade<{ conn: WsConn }>({ conn }, hs.key, protocol, hs.extensions, hs.context);
    });
  }
}

// req.forEach without a closure per request.
let collecting: string[] = [];
const collect = (k: string, v: string): void => {
  // The front negotiates compression with the client; the app never sees the offer (a node
  // app's ws library would otherwise negotiate a deflate the front does not speak to it).
  if (k !== 'sec-websocket-extensions') collecting.push(k, v);
};

/** An upgrade answered without reaching a worker (the request itself was sound). */
function refuse(ctx: UpgradeContext, res: HttpResponse, status: number, headers?: Record<string, string>): void {
  ctx.done(status, sendStatus(res, status, { headers, close: ctx.closeConnection }));
}

/** A bad upgrade request: logged, refused on a later tick with the connection closed (framing.ts). */
function refuseBad(
  front: WsFront,
  ctx: UpgradeContext,
  res: HttpResponse,
  status: number,
  why: string,
  headers?: Record<string, string>,
): void {
  front.log.warn(`refused WebSocket upgrade: ${why}`, { requestId: ctx.requestId, status });
  refuseAndClose(res, status, false, (s, bytes) => ctx.done(s, bytes), headers);
}

/** The `upgrade` handler of every listener's ws route. */
export function handleUpgrade(front: WsFront, listener: Listener, res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
  const router = front.router;
  const host = req.getHeader('host');
  const url = normalizePath(req.getUrl());
  const found = url === null ? undefined : router.resolve(listener, host, url);
  const handler = found?.route.handler;
  // Not an app: whatever the same GET gets (a static file, 404, 400 for a path above the root, a redirect).
  if (url === null || found === undefined || !(handler instanceof AppMount)) return router.handle(listener, res, req);
  const mount = found.route.mount as ResolvedApp;
  const pool = front.poolFor(handler.dispatcher);
  const ctx = new UpgradeContext(router, found.vhostRoute, found.route, pool, req, res, host, url, listener.secure);
  router.inFlight++;
  collecting = [];
  req.forEach(collect);
  const headers = collecting;
  collecting = [];
  const frame = framing(headers);
  if (typeof frame === 'string') return refuseBad(front, ctx, res, 400, `request framing: ${frame}`);
  if (frame.length > 0 || frame.chunked) return refuseBad(front, ctx, res, 400, 'an upgrade request with a body');
  if (url.length + ctx.query.length > mount.maxUrlLength) return refuseBad(front, ctx, res, 414, 'request target over maxUrlLength');
  if (headerBytes(headers) > MAX_HEADER_BYTES) return refuseBad(front, ctx, res, 431, 'request header fields too large');
  const bad = handshakeRefusal(req.getHeader('sec-websocket-version'), req.getHeader('sec-websocket-key'));
  if (bad !== null) return refuseBad(front, ctx, res, bad.status, bad.why, bad.headers);
  if (router.draining || pool === null || pool.mount === null) return refuse(ctx, res, 503, { 'Retry-After': '5' });
  if (handler.dispatcher.loadError) return refuse(ctx, res, 503, { 'Retry-After': '5' });
  if (!pool.reserve(mount.websocket.maxConnections)) {
    pool.mount.stats.overLimit++;
    front.log.warn('WebSocket upgrade refused: maxConnections reached', {
      requestId: ctx.requestId,
      limit: mount.websocket.maxConnections,
    });
    return refuse(ctx, res, 503, { 'Retry-After': '5' });
  }
  ctx.reserved = true;
  const hs: Handshake = {
    front,
    pool,
    listener,
    limits: mount.websocket,
    key: req.getHeader('sec-websocket-key'),
    protocol: req.getHeader('sec-websocket-protocol'),
    extensions: mount.websocket.compression ? req.getHeader('sec-websocket-extensions') : '',
    context,
  };
  const fullUrl =
    (ctx.secure ? 'https://' : 'http://') + (host !== '' ? host : 'localhost') + url + (ctx.query !== '' ? '?' + ctx.query : '');
  const ex = new UpgradeExchange(handler, res, ctx, fullUrl, headers, hs);
  res.onAborted(() => ex.onAborted());
  handler.submit(ex);
}
