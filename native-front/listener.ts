// One listen address: a uWS App (or SSLApp with one certificate per SNI name) whose single
// catch-all route hands every request to the front's router. The routing table is swapped on
// reload without touching the socket.
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { ListenAddress, ResolvedVhost } from '../shared/config/types.js';
import { HostdError } from '../shared/errors.js';
import { loadUws } from './uws.js';

export type RequestHandler = (listener: Listener, res: HttpResponse, req: HttpRequest) => void;

export function listenKey(a: ListenAddress): string {
  return `${a.host}:${a.port}`;
}

export class Listener {
  readonly key: string;
  readonly secure: boolean;
  private app: TemplatedApp | undefined;
  private socket: us_listen_socket | undefined;
  /** The port actually bound (differs from address.port when that is 0). */
  port = 0;
  /** SNI names and the files they were configured with, to notice certificate changes. */
  private tlsFingerprint = '';

  constructor(
    readonly address: ListenAddress,
    vhosts: readonly ResolvedVhost[],
    private readonly onRequest: RequestHandler,
  ) {
    this.key = listenKey(address);
    this.secure = vhosts.some((v) => v.tls);
    this.app = this.createApp(vhosts);
  }

  private createApp(vhosts: readonly ResolvedVhost[]): TemplatedApp {
    const uws = loadUws();
    const route = (res: HttpResponse, req: HttpRequest) => this.onRequest(this, res, req);
    const tlsHosts = vhosts.filter((v) => v.tls);
    if (tlsHosts.length === 0) return uws.App().any('/*', route);

    // The first TLS vhost's certificate is the default (clients without SNI, unknown names);
    // every serverName gets its own SNI context whose routes lead to the same router.
    const first = tlsHosts[0].tls!;
    const app = uws.SSLApp({ cert_file_name: first.cert, key_file_name: first.key, passphrase: first.passphrase });
    app.any('/*', route);
    const fingerprint: string[] = [];
    for (const v of tlsHosts) {
      for (const name of v.serverNames) {
        if (name === '*') continue;
        app.addServerName(name, { cert_file_name: v.tls!.cert, key_file_name: v.tls!.key, passphrase: v.tls!.passphrase });
        app.domain(name).any('/*', route);
        fingerprint.push(`${name}=${v.tls!.cert}`);
      }
    }
    this.tlsFingerprint = fingerprint.join('|');
    return app;
  }

  listen(): Promise<number> {
    const app = this.app!;
    return new Promise((resolve, reject) => {
      app.listen(this.address.host, this.address.port, (socket) => {
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
  }

  get listening(): boolean {
    return this.socket !== undefined;
  }
}
