// The front's request path: listener → virtual host (Host header) → mount (longest prefix) →
// the mount's handler, with a Context that feeds the access log and metrics when the response
// completes. Runs on every front thread and never blocks.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ResolvedMount, ResolvedVhost } from '../../shared/config/types.js';
import { mountLabel, type Logger } from '../../shared/log.js';
import { sendStatus } from '../http/answer.js';
import { refuseAndClose, refusedFraming } from '../http/framing.js';
import { normalizePath } from '../http/path.js';
import type { AccessRecord, AccessWriter } from '../log/access-log.js';
import type { MountHandler } from './mount.js';
import type { MountStats } from '../front/mount-stats.js';
import { acceptRequestId, newRequestId } from '../http/request-id.js';
import { MountTable } from './mount-match.js';
import { hostnameOf, INVALID_HOST, VhostTable } from './host-match.js';
import type { TrustProxy } from '../http/trust-proxy.js';
import { Context, peerAddress } from '../front/context.js';
import type { Listener } from '../front/listener.js';

export interface MountRoute {
  readonly key: string;
  readonly mount: ResolvedMount;
  readonly handler: MountHandler;
  readonly stats: MountStats;
}

export interface VhostRoute {
  readonly vhost: ResolvedVhost;
  /** The vhost's first serverName: the `vhost` of log lines. */
  readonly name: string;
  /** The site name (vhost.name): what tells sites apart in logs and metrics. */
  readonly site: string;
  /** The port of the listener this table serves (the access log's vhost_combined %p). */
  readonly port: number;
  readonly mounts: MountTable<MountRoute>;
}

export type RoutingTable = VhostTable<VhostRoute>;

export class Router {
  /** Requests handed to a mount whose response has not completed. */
  inFlight = 0;
  /** Requests that reached no mount: counted for /metrics. */
  unrouted = 0;
  /** Answer everything with Connection: close (graceful shutdown). */
  draining = false;
  /** Called whenever inFlight drops to zero. */
  onIdle: (() => void) | null = null;
  /** Per listener key: the routing table of the current configuration generation. */
  private readonly tables = new Map<string, RoutingTable>();

  constructor(
    readonly log: Logger,
    readonly accessLog: AccessWriter | null,
    readonly trustProxy: TrustProxy | null,
  ) {}

  hasTable(listenerKey: string): boolean {
    return this.tables.has(listenerKey);
  }

  setTable(listenerKey: string, table: RoutingTable | undefined): void {
    if (table) this.tables.set(listenerKey, table);
    else this.tables.delete(listenerKey);
  }

  requestDone(): void {
    if (--this.inFlight === 0) this.onIdle?.();
  }

  /**
   * Answers a request the router handles itself (no vhost, bad Host, no mount, redirect), logging
   * it; `to` is the vhost it was for, when one matched.
   */
  private answer(
    listener: Listener,
    res: HttpResponse,
    req: HttpRequest,
    host: string,
    to: VhostRoute | undefined,
    status: number,
    headers?: Record<string, string>,
    body?: string,
  ): void {
    this.unrouted++;
    const rec = this.accessLog && this.unroutedRecord(listener, res, req, host, to);
    const bad = refusedFraming(req);
    if (bad !== '') {
      this.log.warn(`refused request framing: ${bad}`, { site: to?.site ?? '-', vhost: to?.name ?? '-', status: 400 });
      return refuseAndClose(res, 400, req.getMethod() === 'head', (s, bytes) => rec && this.accessLog!.write({ ...rec, status: s, bytes }));
    }
    const bytes = sendStatus(res, status, { headers, body, head: req.getMethod() === 'head', close: this.draining || status === 400 });
    if (rec) this.accessLog!.write({ ...rec, status, bytes });
  }

  /** The access log record of a request the router answers itself; read before answering. */
  private unroutedRecord(
    listener: Listener,
    res: HttpResponse,
    req: HttpRequest,
    host: string,
    to: VhostRoute | undefined,
  ): Omit<AccessRecord, 'status' | 'bytes'> {
    const peer = peerAddress(res);
    const trust = this.trustProxy;
    const query = req.getQuery();
    return {
      vhost: to?.name ?? '-',
      site: to?.site ?? '-',
      port: listener.port,
      mount: '-',
      method: req.getMethod().toUpperCase(),
      url: query ? `${req.getUrl()}?${query}` : req.getUrl(),
      host,
      remoteAddress: trust ? trust.origin(peer, req, false).address : peer,
      referer: req.getHeader('referer'),
      userAgent: req.getHeader('user-agent'),
      requestId: acceptRequestId(req.getHeader('x-request-id')) ?? newRequestId(),
      durationMs: 0,
    };
  }

  /**
   * The mount a request for `host` and `url` would be handed to, or undefined when the router
   * answers it itself (bad or unknown Host, redirect to https, no mount). WebSocket upgrades
   * (native-front/ws/upgrade.ts) route with this and hand everything else to `handle`. `url` is
   * the normalised path (http/path.ts).
   */
  resolve(listener: Listener, host: string, url: string): { vhostRoute: VhostRoute; route: MountRoute } | undefined {
    const vhostRoute = this.tables.get(listener.key)?.match(host);
    if (vhostRoute === undefined || vhostRoute === INVALID_HOST) return undefined;
    if (vhostRoute.vhost.redirectHttps !== undefined && !listener.secure) return undefined;
    const route = vhostRoute.mounts.match(url);
    return route === undefined ? undefined : { vhostRoute, route };
  }

  /** The uWS route handler of every listener. */
  readonly handle = (listener: Listener, res: HttpResponse, req: HttpRequest): void => {
    const host = req.getHeader('host');
    const vhostRoute = this.tables.get(listener.key)?.match(host);
    if (vhostRoute === INVALID_HOST) return this.answer(listener, res, req, host, undefined, 400, undefined, 'Invalid Host header\n');
    if (vhostRoute === undefined) {
      if (host === '') return this.answer(listener, res, req, host, undefined, 400, undefined, 'Missing Host header\n');
      return this.answer(listener, res, req, host, undefined, 404, undefined, 'No virtual host here for this name\n');
    }
    // Routed, served and handed over as one normalised path (http/path.ts).
    const url = normalizePath(req.getUrl());
    if (url === null) return this.answer(listener, res, req, host, vhostRoute, 400, undefined, 'Path climbs above the root\n');
    const vhost = vhostRoute.vhost;
    if (vhost.redirectHttps !== undefined && !listener.secure) {
      const query = req.getQuery();
      const port = vhost.redirectHttps === 443 ? '' : `:${vhost.redirectHttps}`;
      const location = `https://${hostnameOf(host)}${port}${url}${query ? `?${query}` : ''}`;
      return this.answer(listener, res, req, host, vhostRoute, 308, { Location: location });
    }
    const route = vhostRoute.mounts.match(url);
    if (route === undefined) return this.answer(listener, res, req, host, vhostRoute, 404);
    const ctx = new Context(this, vhostRoute, route, res, req, host, url, listener.secure);
    this.inFlight++;
    if (route.mount.kind === 'app' && req.getHeader('sec-websocket-key') !== '' && isWebSocketUpgrade(req)) {
      // uWS hands every GET upgrade with a 24-character key to the ws route (ws/upgrade.ts); one
      // here has a key uWS did not take (or is no GET). The app must not see it: it would accept
      // a socket nobody can open, and the client would never get an answer.
      this.log.warn('refused WebSocket upgrade: bad Sec-WebSocket-Key or method', {
        vhost: vhostRoute.name,
        requestId: ctx.requestId,
        status: 400,
      });
      return refuseAndClose(res, 400, ctx.method === 'head', (s, bytes) => ctx.done(s, bytes));
    }
    if (route.mount.kind !== 'app') {
      // App mounts check framing on the headers they copy anyway (app-mount.ts); the front's own
      // answers must not let a smuggled request through either.
      const bad = refusedFraming(req);
      if (bad !== '') {
        this.log.warn(`refused request framing: ${bad}`, {
          site: vhostRoute.site,
          mount: mountLabel(route.mount.url),
          vhost: vhostRoute.name,
          requestId: ctx.requestId,
          status: 400,
        });
        return refuseAndClose(res, 400, ctx.method === 'head', (s, bytes) => ctx.done(s, bytes));
      }
    }
    try {
      route.handler.handle(res, req, ctx);
    } catch (err) {
      // A mount's bug must not take the front down; answer if the mount had not started to.
      this.log.error('mount handler threw', {
        site: vhostRoute.site,
        mount: mountLabel(route.mount.url),
        vhost: vhostRoute.name,
        requestId: ctx.requestId,
        err,
      });
      try {
        ctx.done(500, sendStatus(res, 500));
      } catch {
        ctx.done(500, 0);
      }
    }
  };
}

function isWebSocketUpgrade(req: HttpRequest): boolean {
  return req.getHeader('upgrade').toLowerCase().includes('websocket');
}

/** Builds one listener's routing table from its vhosts and their mount routes; `port`: the listener's bound port. */
export function buildTable(
  vhosts: readonly ResolvedVhost[],
  routeFor: (vhost: ResolvedVhost, mount: ResolvedMount) => MountRoute,
  port: number,
): RoutingTable {
  const table: RoutingTable = new VhostTable();
  for (const vhost of vhosts) {
    const mounts = new MountTable<MountRoute>();
    for (const m of vhost.mounts) mounts.add(m.url, routeFor(vhost, m));
    table.add(vhost.serverNames, vhost.isDefault, { vhost, name: vhost.serverNames[0] ?? '*', site: vhost.name, port, mounts });
  }
  return table;
}
