// PROXY protocol (v1 and v2) for listen entries with `proxyProtocol: true`. Two entry points for
// the listener and the front:
//
//   listenWithProxyProtocol(app, host, port)  instead of app.listen(host, port): binds the uWS app
//       to a private Unix socket and the public address to a gateway that requires, checks and
//       relays the PROXY header (gateway.ts), on its own worker thread (thread.ts). Resolves with
//       the bound port, close() (stop accepting) and destroy() (cut what is left).
//   peerAddressOf(res)  instead of res.getRemoteAddress(): the client a proxy named, for a
//       connection that came through a gateway (uWS reports no address for Unix sockets), else
//       the TCP peer (address.ts clientIp). One extra branch on the plain path, no extra syscall.
import type { HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { HostdError } from '../../shared/errors.js';
import { loadUws } from '../http/uws.js';
import { ProxyProtocolGateway, privateSocketPath, type GatewayStats } from './gateway.js';
import { GatewayThread, type GatewayThreadOptions } from './thread.js';
import { clientIp } from './address.js';

export { ProxyProtocolGateway, privateSocketPath, type GatewayStats } from './gateway.js';
export { GatewayThread } from './thread.js';
export { parseProxyHeader, type ProxyHeader, type ParseResult } from './parse.js';
export { formatIp, ipBytes } from './address.js';
export { encodeV1, encodeV2, encodeV2Local } from './encode.js';

export interface ProxyProtocolListen {
  /** The public port bound (differs from the requested one when that was 0). */
  readonly port: number;
  /** The gateway's counters and open client connections. */
  stats(): Promise<{ stats: GatewayStats; connections: number }>;
  /** Stops accepting (gateway and uWS socket); open connections finish. Removes the socket file. */
  close(): void;
  /** Cuts every client connection still open (at the end of a graceful timeout). */
  destroy(): void;
}

export interface ProxyProtocolOptions extends Omit<GatewayThreadOptions, 'host' | 'port' | 'target'> {
  /**
   * Run the gateway on its own worker thread (default true): the relay then costs the front
   * thread nothing (measured: docs/deploy.md). false: in the calling thread (tests, tools).
   */
  thread?: boolean;
}

/**
 * Listens on host:port for connections that start with a PROXY header and serves them with `app`.
 * `opts`: the gateway's thread, header timeout, size limit and callbacks.
 */
export async function listenWithProxyProtocol(
  app: TemplatedApp,
  host: string,
  port: number,
  opts: ProxyProtocolOptions = {},
): Promise<ProxyProtocolListen> {
  const uws = loadUws();
  const { thread = true, ...gatewayOpts } = opts;
  const sock = privateSocketPath();
  const uwsSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen_unix((s) => {
      if (s) resolve(s);
      else
        reject(
          new HostdError(
            'HOSTD_LISTEN',
            `cannot listen on the Unix socket ${sock.path} (behind the PROXY-protocol gateway of ${host}:${port})`,
          ),
        );
    }, sock.path);
  }).catch((err: unknown) => {
    sock.remove();
    throw err;
  });
  const options = { ...gatewayOpts, host, port, target: sock.path };
  let gateway: GatewayThread | ProxyProtocolGateway;
  let bound: number;
  try {
    if (thread) {
      gateway = await GatewayThread.start(options);
      bound = gateway.port;
    } else {
      gateway = new ProxyProtocolGateway(options);
      bound = await gateway.listen();
    }
  } catch (err) {
    uws.us_listen_socket_close(uwsSocket);
    sock.remove();
    throw err;
  }
  let open = true;
  const g = gateway;
  const close = () => {
    if (!open) return;
    open = false;
    g.close();
    uws.us_listen_socket_close(uwsSocket);
    // Connections already relayed keep their socket; the path is only needed to connect.
    sock.remove();
  };
  return {
    port: bound,
    stats: () => (g instanceof GatewayThread ? g.stats() : Promise.resolve({ stats: { ...g.stats }, connections: g.connections })),
    close,
    destroy() {
      close();
      g.destroyAll();
    },
  };
}

/**
 * The client address of a uWS request. A TCP connection reports its peer; a connection relayed
 * by a gateway arrives over a Unix socket (no peer address) with the gateway's v2 header, so the
 * address is the one the proxy named. hostd listens on Unix sockets only behind a gateway, so a
 * client can never choose this branch.
 */
export function peerAddressOf(res: HttpResponse): string {
  const direct = res.getRemoteAddress();
  if (direct.byteLength !== 0) return clientIp(new Uint8Array(direct));
  return clientIp(new Uint8Array(res.getProxiedRemoteAddress()));
}
