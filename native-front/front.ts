// The front's request path: listener → virtual host (Host header) → mount (longest prefix) →
// the mount's handler, with a RequestContext that feeds the access log and metrics when the
// response completes. Everything here runs on the main thread and never blocks.
import { performance } from 'node:perf_hooks';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ResolvedMount, ResolvedVhost } from '../shared/config/types.js';
import type { AccessLog, AccessRecord } from './log/access-log.js';
import type { Listener } from './listener.js';
import type { ErrorLog, MountHandler, RequestContext } from './mount.js';
import { MountStats } from './ops/mount-stats.js';
import { acceptRequestId, newRequestId } from './request-id.js';
import { sendStatus } from './respond.js';
import { MountTable } from './routing/mount-match.js';
import { VhostTable, hostnameOf } from './routing/host-match.js';
import { TrustProxy } from './trust-proxy.js';
import { peerAddressOf } from './proxy-protocol/index.js';

export interface MountRoute {
  readonly mount: ResolvedMount;
  readonly handler: MountHandler;
  readonly stats: MountStats;
}

export interface VhostRoute {
  readonly vhost: ResolvedVhost;
  /** The vhost's first serverName: its name in logs and metrics. */
  readonly name: string;
  readonly mounts: MountTable<MountRoute>;
}

export type RoutingTable = VhostTable<VhostRoute>;

export interface FrontOptions {
  log: ErrorLog;
  accessLog?: AccessLog;
  trustProxy?: TrustProxy;
}

/**
 * The peer's address. uWS v20.30 answers this with a getpeername() syscall per call: read it at most once per request.
 * proxyProtocol (issue 14, branch proxies): peerAddressOf also reads the address a PROXY header named on connections relayed by
 * the gateway (which arrive over a Unix socket, so uWS has no peer address for them).
 */
function peerAddress(res: HttpResponse): string {
  return peerAddressOf(res);
}

class Context implements RequestContext {
  readonly method: string;
  readonly url: string;
  readonly query: string;
  readonly secure: boolean;
  readonly start = performance.now();
  private id: string | undefined;
  /** The client address once read (see remoteAddress). */
  private address: string | undefined;
  private referer = '';
  private userAgent = '';
  private finished = false;

  constructor(
    private readonly front: Front,
    readonly vhostRoute: VhostRoute,
    readonly route: MountRoute,
    private readonly res: HttpResponse,
    req: HttpRequest,
    readonly host: string,
    url: string,
    secure: boolean,
  ) {
    this.method = req.getMethod();
    this.url = url;
    this.query = req.getQuery() ?? '';
    const isApp = route.mount.kind === 'app';
    // Header reads cost a call each: take what a later reader needs (the access log, an app)
    // now, while req is alive. A static request without an access log gets a fresh id if an
    // error log line ever needs one.
    if (front.accessLog || isApp) this.id = acceptRequestId(req.getHeader('x-request-id'));
    const trust = front.trustProxy;
    if (front.accessLog || (isApp && trust)) {
      // The address is read eagerly only when it is certainly needed, or when X-Forwarded-*
      // must be judged by it while their headers can still be read; otherwise on first use.
      const peer = peerAddress(this.res);
      if (trust && trust.trusts(peer)) {
        this.address = trust.client(peer, req.getHeader('x-forwarded-for'));
        const proto = req.getHeader('x-forwarded-proto');
        if (proto) secure = proto.toLowerCase() === 'https';
      } else this.address = peer;
    }
    this.secure = secure;
    if (front.accessLog) {
      this.referer = req.getHeader('referer');
      this.userAgent = req.getHeader('user-agent');
    }
  }

  get remoteAddress(): string {
    // After the response completed (or the client left) the uWS response must not be touched.
    return (this.address ??= this.finished ? '' : peerAddress(this.res));
  }

  /** The address if it has been read already, else null (reading it costs a syscall). */
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
    this.front.inFlight--;
    this.route.stats.record(status, bytes, durationMs);
    this.front.accessLog?.write({
      vhost: this.vhostRoute.name,
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
    if (this.front.inFlight === 0) this.front.onIdle?.();
  }
}

export class Front {
  readonly log: ErrorLog;
  accessLog: AccessLog | undefined;
  trustProxy: TrustProxy | undefined;
  /** Requests handed to a mount whose response has not completed. */
  inFlight = 0;
  /** Called whenever inFlight drops to zero (graceful shutdown waits on it). */
  onIdle: (() => void) | undefined;
  /** Per listener key: the routing table of the current configuration generation. */
  private readonly tables = new Map<string, RoutingTable>();
  /** Requests that reached no mount: counted for /metrics. */
  unrouted = 0;

  constructor(opts: FrontOptions) {
    this.log = opts.log;
    this.accessLog = opts.accessLog;
    this.trustProxy = opts.trustProxy;
  }

  /** The access log record of a request the router answers itself (no vhost, no mount, redirect); read before answering. */
  private unroutedRecord(res: HttpResponse, req: HttpRequest, host: string, vhost: string): Omit<AccessRecord, 'status' | 'bytes'> {
    const peer = peerAddress(res);
    const trust = this.trustProxy;
    const query = req.getQuery();
    return {
      vhost,
      mount: '-',
      method: req.getMethod().toUpperCase(),
      url: query ? `${req.getUrl()}?${query}` : req.getUrl(),
      host,
      remoteAddress: trust && trust.trusts(peer) ? trust.client(peer, req.getHeader('x-forwarded-for')) : peer,
      referer: req.getHeader('referer'),
      userAgent: req.getHeader('user-agent'),
      requestId: acceptRequestId(req.getHeader('x-request-id')) ?? newRequestId(),
      durationMs: 0,
    };
  }

  setTable(listenerKey: string, table: RoutingTable | undefined): void {
    if (table) this.tables.set(listenerKey, table);
    else this.tables.delete(listenerKey);
  }

  /** The uWS route handler of every listener. */
  readonly handle = (listener: Listener, res: HttpResponse, req: HttpRequest): void => {
    const host = req.getHeader('host');
    const table = this.tables.get(listener.key);
    const vhostRoute = table?.match(host);
    if (vhostRoute === undefined) {
      this.unrouted++;
      const status = host ? 404 : 400;
      const rec = this.accessLog && this.unroutedRecord(res, req, host, '-');
      const bytes = sendStatus(res, status, { body: host ? 'No virtual host here for this name\n' : 'Missing Host header\n' });
      if (rec) this.accessLog!.write({ ...rec, status, bytes });
      return;
    }
    const url = req.getUrl();
    const vhost = vhostRoute.vhost;
    if (vhost.redirectHttps !== undefined && !listener.secure) {
      this.unrouted++;
      const query = req.getQuery();
      const port = vhost.redirectHttps === 443 ? '' : `:${vhost.redirectHttps}`;
      const location = `https://${hostnameOf(host)}${port}${url}${query ? `?${query}` : ''}`;
      const rec = this.accessLog && this.unroutedRecord(res, req, host, vhostRoute.name);
      const bytes = sendStatus(res, 308, { headers: { Location: location }, head: req.getMethod() === 'head' });
      if (rec) this.accessLog!.write({ ...rec, status: 308, bytes });
      return;
    }
    const route = vhostRoute.mounts.match(url);
    if (route === undefined) {
      this.unrouted++;
      const rec = this.accessLog && this.unroutedRecord(res, req, host, vhostRoute.name);
      const bytes = sendStatus(res, 404);
      if (rec) this.accessLog!.write({ ...rec, status: 404, bytes });
      return;
    }
    const ctx = new Context(this, vhostRoute, route, res, req, host, url, listener.secure);
    this.inFlight++;
    try {
      route.handler.handle(res, req, ctx);
    } catch (err) {
      // A mount's bug must not take the front down; answer if the mount had not started to.
      this.log.error('mount handler threw', { vhost: vhostRoute.name, mount: route.mount.url || '/', requestId: ctx.requestId, err });
      try {
        ctx.done(500, sendStatus(res, 500));
      } catch {
        ctx.done(500, 0);
      }
    }
  };
}

/** Builds one listener's routing table from its vhosts and their mount handlers. */
export function buildTable(
  vhosts: readonly ResolvedVhost[],
  routeFor: (vhost: ResolvedVhost, mount: ResolvedMount) => MountRoute,
): RoutingTable {
  const table: RoutingTable = new VhostTable();
  for (const vhost of vhosts) {
    const mounts = new MountTable<MountRoute>();
    for (const m of vhost.mounts) mounts.add(m.url, routeFor(vhost, m));
    table.add(vhost.serverNames, vhost.isDefault, { vhost, name: vhost.serverNames[0] ?? '*', mounts });
  }
  return table;
}
