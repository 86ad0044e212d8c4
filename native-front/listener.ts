// One listen address: a uWS App (or SSLApp with one certificate per SNI name) whose single
// catch-all route hands every request to the front's router. The routing table is swapped on
// reload without touching the socket; for TLS, reload re-registers every SNI name, which makes
// uWS read the certificate files again, also without touching the socket.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { ListenAddress, ResolvedVhost, TlsConfig } from '../shared/config/types.js';
import { HostdError } from '../shared/errors.js';
import { loadUws } from './uws.js';
// proxyProtocol (issue 14, branch proxies): the lead ports this into the new listener.
import { listenWithProxyProtocol, type ProxyProtocolListen } from './proxy-protocol/index.js';

export type RequestHandler = (listener: Listener, res: HttpResponse, req: HttpRequest) => void;

export function listenKey(a: ListenAddress): string {
  return `${a.host}:${a.port}`;
}

/** The certificate for clients without SNI (or with a name no vhost has): the catch-all's, else the first. */
export function defaultTls(vhosts: readonly ResolvedVhost[]): TlsConfig | undefined {
  const tlsHosts = vhosts.filter((v) => v.tls);
  return (tlsHosts.find((v) => v.isDefault || v.serverNames.includes('*')) ?? tlsHosts[0])?.tls;
}

/**
 * Reads every vhost's certificate and key and checks they load and match (uWS itself would
 * silently serve without them). Rejects with every problem, naming the vhost file.
 */
export async function validateTls(vhosts: readonly ResolvedVhost[]): Promise<Map<string, string>> {
  const fingerprints = new Map<string, string>();
  const problems = await Promise.all(
    vhosts.map(async (v) => {
      if (!v.tls) return undefined;
      try {
        const [cert, key] = await Promise.all([readFile(v.tls.cert), readFile(v.tls.key)]);
        createSecureContext({ cert, key, passphrase: v.tls.passphrase });
        fingerprints.set(tlsKey(v.tls), createHash('sha256').update(cert).update(key).digest('hex'));
        return undefined;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const why = e.code === 'ENOENT' || e.code === 'EACCES' ? `${e.code}: ${e.path ?? ''}` : e.message;
        return `${v.file}: tls: certificate ${v.tls.cert} / key ${v.tls.key} do not load (${why})`;
      }
    }),
  );
  const found = problems.filter((p): p is string => p !== undefined);
  if (found.length) throw new HostdError('HOSTD_CONFIG', found.join('\n'));
  return fingerprints;
}

export function tlsKey(tls: TlsConfig): string {
  return `${tls.cert}|${tls.key}`;
}

export class Listener {
  readonly key: string;
  readonly secure: boolean;
  private readonly app: TemplatedApp;
  private socket: us_listen_socket | undefined;
  /** proxyProtocol (issue 14, branch proxies): the gateway and Unix socket instead of `socket`. */
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
  private readonly route: (res: HttpResponse, req: HttpRequest) => void;

  constructor(
    readonly address: ListenAddress,
    vhosts: readonly ResolvedVhost[],
    private readonly onRequest: RequestHandler,
    opts: { defaultCert?: string; bindPort?: number } = {},
  ) {
    this.key = listenKey(address);
    this.route = (res, req) => this.onRequest(this, res, req);
    const uws = loadUws();
    const first = defaultTls(vhosts);
    this.secure = first !== undefined;
    this.defaultCert = opts.defaultCert ?? '';
    this.bindPort = opts.bindPort ?? address.port;
    if (!first) {
      this.app = uws.App().any('/*', this.route);
      return;
    }
    // The default context serves clients without SNI; every serverName gets its own SNI context
    // whose routes lead to the same router.
    this.app = uws.SSLApp({ cert_file_name: first.cert, key_file_name: first.key, passphrase: first.passphrase });
    this.app.any('/*', this.route);
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
        this.app.domain(name).any('/*', this.route);
        this.sniNames.add(name);
      }
    }
  }

  listen(): Promise<number> {
    const app = this.app;
    // proxyProtocol (issue 14, branch proxies): uWS listens on a private Unix socket behind a
    // gateway that owns the public port (native-front/proxy-protocol/index.ts).
    if (this.address.proxyProtocol) {
      return listenWithProxyProtocol(app, this.address.host, this.bindPort).then((pp) => {
        this.proxied = pp;
        this.port = pp.port;
        return pp.port;
      });
    }
    return new Promise((resolve, reject) => {
      app.listen(this.address.host, this.bindPort, (socket) => {
        if (!socket) {
          reject(
            new HostdError(
              'HOSTD_LISTEN',
              `cannot listen on ${this.key}: the address is in use or not available on this machine`,
            ),
          );
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
    this.proxied?.close(); // proxyProtocol (issue 14, branch proxies)
    this.proxied = undefined;
  }

  get listening(): boolean {
    return this.socket !== undefined || this.proxied !== undefined;
  }

  /** "http://host:port" as bound, for logs. */
  get origin(): string {
    return `${this.secure ? 'https' : 'http'}://${this.address.host}:${this.port}`;
  }
}
