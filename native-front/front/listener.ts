// One listen address on one front: a uWS App (or SSLApp with one certificate per SNI name) whose
// single catch-all route hands every request to the front's router. Every front binds the same
// address (uWS sets SO_REUSEPORT; the kernel spreads connections over the fronts). The routing
// table is swapped on reload without touching the socket; for TLS, reload re-registers every SNI
// name, which makes uWS read the certificate files again, also without touching the socket.
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { formatListen } from '../../shared/config/listen.js';
import type { ListenAddress, ResolvedVhost, TlsConfig } from '../../shared/config/types.js';
import { HostdError } from '../../shared/errors.js';
import { loadUws } from '../http/uws.js';
import { listenWithProxyProtocol, type ProxyProtocolListen } from '../proxy-protocol/index.js';
import { refusalLogger } from '../proxy-protocol/refusals.js';
import { proxyProtocolTrust } from '../proxy-protocol/trust.js';
import type { Logger } from '../../shared/log.js';
import { wsPayloadCeiling, type WsFront } from '../ws/front.js';

/** The certificate for clients without SNI (or with a name no vhost has): the catch-all's, else the first. */
export function defaultTls(vhosts: readonly ResolvedVhost[]): TlsConfig | undefined {
  const tlsHosts = vhosts.filter((v) => v.tls);
  return (tlsHosts.find((v) => v.isDefault || v.serverNames.includes('*')) ?? tlsHosts[0])?.tls;
}

export type RequestHandler = (listener: Listener, res: HttpResponse, req: HttpRequest) => void;

export class Listener {
  readonly key: string;
  readonly secure: boolean;
  /** The uWS App (WebSockets publish on it: native-front/ws). */
  readonly app: TemplatedApp;
  /** The largest WebSocket message uWS reads on the default route (native-front/ws/front.ts). */
  readonly wsPayloadCeiling: number;
  private readonly ws: WsFront | undefined;
  private socket: us_listen_socket | undefined;
  /** proxyProtocol: the gateway (which owns the public port) and uWS's Unix socket behind it, instead of `socket`. */
  private proxied: ProxyProtocolListen | undefined;
  /** The port actually bound (differs from address.port when that is 0). */
  port = 0;
  /** SNI names registered on the SSLApp (re-registered on every update). */
  private sniNames = new Set<string>();
  /**
   * Identifies the default certificate the SSLApp was built with (its files' hash): uWS cannot
   * change it later, so a new one needs a new listener.
   */
  readonly defaultCert: string;
  private readonly bindPort: number;
  /** --trust-proxy's list: whom a proxyProtocol listener believes when its entry names no one. */
  private readonly trustProxy: readonly string[];
  /** Where refused PROXY-protocol connections are logged (throttled: refusals.ts). */
  private readonly log: Logger | undefined;
  private readonly route: (res: HttpResponse, req: HttpRequest) => void;

  constructor(
    readonly address: ListenAddress,
    vhosts: readonly ResolvedVhost[],
    private readonly onRequest: RequestHandler,
    opts: { defaultCert?: string; bindPort?: number; ws?: WsFront; trustProxy?: readonly string[]; log?: Logger } = {},
  ) {
    this.key = formatListen(address);
    this.route = (res, req) => this.onRequest(this, res, req);
    const uws = loadUws();
    const first = defaultTls(vhosts);
    this.secure = first !== undefined;
    this.defaultCert = opts.defaultCert ?? '';
    this.bindPort = opts.bindPort ?? address.port;
    this.trustProxy = opts.trustProxy ?? [];
    this.log = opts.log;
    this.ws = opts.ws;
    this.wsPayloadCeiling = wsPayloadCeiling(vhosts);
    if (!first) {
      this.app = uws.App().any('/*', this.route);
      // WebSocket upgrades route through native-front/ws (uWS gives GETs with Sec-WebSocket-Key to it).
      if (this.ws) this.app.ws('/*', this.ws.behavior(this, vhosts));
      return;
    }
    // The default context serves clients without SNI; every serverName gets its own SNI context
    // whose routes lead to the same router.
    this.app = uws.SSLApp({ cert_file_name: first.cert, key_file_name: first.key, passphrase: first.passphrase });
    this.app.any('/*', this.route);
    if (this.ws) this.app.ws('/*', this.ws.behavior(this, vhosts));
    this.update(vhosts);
  }

  /**
   * Applies a new configuration to a TLS listener: every SNI name is removed and added again,
   * so uWS reads its certificate and key files anew (a renewed certificate at the same path
   * included). Synchronous, so no handshake sees a half-updated table. Connections already
   * established keep their TLS session; their next request routes by name to the new table.
   * Certificates must have been validated first (see validateTls): uWS does not report failures.
   */
  update(vhosts: readonly ResolvedVhost[]): void {
    if (!this.secure) return;
    for (const name of this.sniNames) this.app.removeServerName(name);
    this.sniNames = new Set();
    for (const v of vhosts) {
      if (!v.tls) continue;
      for (const name of v.serverNames) {
        if (name === '*' || this.sniNames.has(name)) continue;
        this.app.addServerName(name, { cert_file_name: v.tls.cert, key_file_name: v.tls.key, passphrase: v.tls.passphrase });
        const domain = this.app.domain(name).any('/*', this.route);
        // wss:// with the same certificate (a fresh SNI context: a fresh ws route with today's limits).
        if (this.ws) domain.ws('/*', this.ws.behavior(this, vhosts));
        this.sniNames.add(name);
      }
    }
  }

  listen(port = this.bindPort): Promise<number> {
    const app = this.app;
    // proxyProtocol: uWS listens on a private Unix socket behind a gateway that owns the public
    // port (native-front/proxy-protocol/index.ts); only front 0 opens it (see runtime.ts).
    if (this.address.proxyProtocol) {
      if (this.proxied) return Promise.resolve(this.port);
      return listenWithProxyProtocol(app, this.address.host, port, {
        trust: proxyProtocolTrust(this.address, this.trustProxy),
        onRefused: this.log && refusalLogger(this.log, this.key),
      }).then((pp) => {
        this.proxied = pp;
        this.port = pp.port;
        return pp.port;
      });
    }
    return new Promise((resolve, reject) => {
      if (this.socket) return resolve(this.port);
      app.listen(this.address.host, port, (socket) => {
        if (!socket) {
          reject(new HostdError('HOSTD_LISTEN', `cannot listen on ${this.key}: the address is in use or not available on this machine`));
          return;
        }
        this.socket = socket;
        this.port = loadUws().us_socket_local_port(socket as never);
        resolve(this.port);
      });
    });
  }

  /** Stop accepting new connections; open keep-alive connections finish what they have. */
  close(): void {
    if (this.socket) loadUws().us_listen_socket_close(this.socket);
    this.socket = undefined;
    this.proxied?.close();
    this.proxied = undefined;
  }

  /** Accepts again on the port bound before (after pause()). */
  resume(): Promise<number> {
    return this.listen(this.port);
  }

  get listening(): boolean {
    return this.socket !== undefined || this.proxied !== undefined;
  }

  /** "http://host:port" as bound, for logs. */
  get origin(): string {
    return `${this.secure ? 'https' : 'http'}://${this.address.host}:${this.port}`;
  }
}
