// A request's state on the front: what the access log and metrics need when it completes, and
// what mounts read (client address on first use, request id, draining).
import { performance } from 'node:perf_hooks';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ResolvedMount, ResolvedVhost } from '../../shared/config/types.js';
import type { RequestContext } from '../routing/mount.js';
import { acceptRequestId, newRequestId } from '../http/request-id.js';
import { peerAddressOf } from '../proxy-protocol/index.js';
import type { MountRoute, Router, VhostRoute } from '../routing/router.js';

/**
 * The peer's address. uWS v20.30 answers this with a getpeername() syscall per call: read it at
 * most once per request. On a proxyProtocol listener it is the client the PROXY header named.
 */
export function peerAddress(res: HttpResponse): string {
  return peerAddressOf(res);
}

export class Context implements RequestContext {
  readonly method: string;
  readonly query: string;
  readonly secure: boolean;
  readonly start = performance.now();
  readonly closeConnection: boolean;
  private id: string | undefined;
  /** The client address once read (see remoteAddress). */
  private address: string | undefined;
  private referer = '';
  private userAgent = '';
  private finished = false;

  constructor(
    private readonly router: Router,
    readonly vhostRoute: VhostRoute,
    readonly route: MountRoute,
    private readonly res: HttpResponse,
    req: HttpRequest,
    readonly host: string,
    readonly url: string,
    secure: boolean,
  ) {
    this.method = req.getMethod();
    this.query = req.getQuery() ?? '';
    this.closeConnection = router.draining;
    const isApp = route.mount.kind === 'app';
    const logging = router.accessLog !== null;
    // Header reads cost a call each: take what a later reader needs (the access log, an app)
    // now, while req is alive. A static request without an access log gets a fresh id if an
    // error log line ever needs one.
    if (logging || isApp) this.id = acceptRequestId(req.getHeader('x-request-id'));
    const trust = router.trustProxy;
    if (logging || (isApp && trust)) {
      // The address is read eagerly only when it is certainly needed, or when X-Forwarded-*
      // must be judged by it while their headers can still be read; otherwise on first use.
      const peer = peerAddress(res);
      if (trust) ({ address: this.address, secure } = trust.origin(peer, req, secure));
      else this.address = peer;
    }
    this.secure = secure;
    if (logging) {
      this.referer = req.getHeader('referer');
      this.userAgent = req.getHeader('user-agent');
    }
  }

  get remoteAddress(): string {
    // After the response completed (or the client left) the uWS response must not be touched.
    return (this.address ??= this.finished ? '' : peerAddress(this.res));
  }

  get knownRemoteAddress(): string | null {
    return this.address ?? null;
  }

  get vhost(): ResolvedVhost {
    return this.vhostRoute.vhost;
  }
  get mount(): ResolvedMount {
    return this.route.mount;
  }
  get requestId(): string {
    return (this.id ??= newRequestId());
  }

  done(status: number, bytes: number): void {
    if (this.finished) return;
    this.finished = true;
    const durationMs = performance.now() - this.start;
    this.route.stats.record(status, bytes, durationMs);
    this.router.accessLog?.write({
      vhost: this.vhostRoute.name,
      site: this.vhostRoute.site,
      port: this.vhostRoute.port,
      mount: this.route.mount.url,
      method: this.method.toUpperCase(),
      url: this.query ? `${this.url}?${this.query}` : this.url,
      host: this.host,
      remoteAddress: this.address ?? '',
      referer: this.referer,
      userAgent: this.userAgent,
      requestId: this.requestId,
      status,
      bytes,
      durationMs,
    });
    this.router.requestDone();
  }
}
