// PROXY protocol (v1 and v2) for listen entries with `proxyProtocol: true`. Two entry points for
// the listener and the front:
//
//   listenWithProxyProtocol(app, host, port)  instead of app.listen(host, port): binds the uWS app
//       to a private Unix socket and the public address to a gateway that requires, checks and
//       relays the PROXY header (gateway.ts). Resolves with the bound port and a close().
//   peerAddressOf(res)  instead of res.getRemoteAddressAsText(): the client a proxy named, for a
//       connection that came through a gateway (uWS reports no address for Unix sockets), else
//       the TCP peer as before. One extra branch on the plain path, no extra syscall.
import type { HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { HostdError } from '../../shared/errors.js';
import { loadUws } from '../uws.js';
import { ProxyProtocolGateway, privateSocketPath, type GatewayOptions } from './gateway.js';
import { formatIp, unmap } from './address.js';

export { ProxyProtocolGateway, privateSocketPath } from './gateway.js';
export { parseProxyHeader, type ProxyHeader, type ParseResult } from './parse.js';
export { formatIp, ipBytes } from './address.js';
export { encodeV1, encodeV2, encodeV2Local } from './encode.js';

export interface ProxyProtocolListen {
  /** The public port bound (differs from the requested one when that was 0). */
  readonly port: number;
  readonly gateway: ProxyProtocolGateway;
  /** Stops accepting (gateway and uWS socket); open connections finish. Removes the socket file. */
  close(): void;
}

/**
 * Listens on host:port for connections that start with a PROXY header and serves them with `app`.
 * `opts`: the gateway's header timeout, size limit and refusal callback.
 */
export async function listenWithProxyProtocol(
  app: TemplatedApp,
  host: string,
  port: number,
  opts: Omit<GatewayOptions, 'host' | 'port' | 'target'> = {},
): Promise<ProxyProtocolListen> {
  const uws = loadUws();
  const sock = privateSocketPath();
  const uwsSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen_unix((s) => {
      if (s) resolve(s);
      else reject(new HostdError('HOSTD_LISTEN', `cannot listen on the Unix socket ${sock.path} (behind the PROXY-protocol gateway of ${host}:${port})`));
    }, sock.path);
  }).catch((err: unknown) => {
    sock.remove();
    throw err;
  });
  const gateway = new ProxyProtocolGateway({ ...opts, host, port, target: sock.path });
  let bound: number;
  try {
    bound = await gateway.listen();
  } catch (err) {
    uws.us_listen_socket_close(uwsSocket);
    sock.remove();
    throw err;
  }
  let open = true;
  return {
    port: bound,
    gateway,
    close() {
      if (!open) return;
      open = false;
      gateway.close();
      uws.us_listen_socket_close(uwsSocket);
      // Connections already relayed keep their socket; the path is only needed to connect.
      sock.remove();
    },
  };
}

const textDecoder = new TextDecoder();

/**
 * The client address of a uWS request. A TCP connection reports its peer; a connection relayed
 * by a gateway arrives over a Unix socket (no peer address) with the gateway's v2 header, so the
 * address is the one the proxy named. hostd listens on Unix sockets only behind a gateway, so a
 * client can never choose this branch.
 */
export function peerAddressOf(res: HttpResponse): string {
  const direct = res.getRemoteAddressAsText();
  if (direct.byteLength !== 0) return unmap(textDecoder.decode(direct));
  const proxied = res.getProxiedRemoteAddress();
  return proxied.byteLength === 4 || proxied.byteLength === 16 ? unmap(formatIp(new Uint8Array(proxied))) : '';
}
