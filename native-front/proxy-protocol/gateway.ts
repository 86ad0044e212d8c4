// The PROXY-protocol gateway of a `listen: { proxyProtocol: true }` address. A node:net server
// owns the public port: it reads the PROXY header (v1 or v2) each connection must start with,
// refuses a connection without a valid one (closed before any byte of it reaches uWS), then
// relays the connection to the listener's uWS app on a private Unix socket, first writing a v2
// header that names the client. Only peers on the trust list may send one (trust.ts): anyone
// else is closed at once, before a byte is read, or any client that reaches the port could name
// itself a trusted proxy and then say whatever X-Forwarded-For it likes.
//
// Why a relay and not uWS alone (measured on the pinned uWS v20.30, see docs/deploy.md):
// - uWS parses only v2; a v1 line is taken as a bad request line and the connection hangs;
// - uWS accepts connections without any header (so it cannot refuse them), and takes LOCAL
//   headers' addresses and malformed ones (short address blocks, unknown commands) at face value;
// - uWS prints IPv6 sources uncompressed ("2001:0db8:0000:...");
// - on an SSLApp uWS looks for the header inside TLS, where no proxy puts it.
// The relay normalises all of that into the one form uWS reads well (v2 PROXY, TCP4/TCP6) over
// a socket only this process can reach (a 0700 directory), so no other local user can inject a
// header. What it costs is measured in docs/deploy.md ("HAProxy and the PROXY protocol").
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostdError } from '../../shared/errors.js';
import { TrustProxy } from '../http/trust-proxy.js';
import { unmap } from './address.js';
import { encodeV2 } from './encode.js';
import { DEFAULT_MAX_HEADER_BYTES, parseProxyHeader, type ProxyEndpoint, type ProxyHeader } from './parse.js';

export interface GatewayOptions {
  /** The public address (what `listen` names). */
  host: string;
  port: number;
  /** The Unix socket the uWS app listens on (see privateSocketPath). */
  target: string;
  /** A connection that has not sent its whole header by then is refused. Default 5 s. */
  headerTimeoutMs?: number;
  /** Longest v2 header (with TLVs) accepted. Default 4096. */
  maxHeaderBytes?: number;
  /** Peers (IP addresses, CIDRs) whose PROXY headers are believed; others are closed at once. Absent: any peer. */
  trust?: readonly string[];
  /** Called for each refused connection (log it; it is usually a client bypassing the proxy). */
  onRefused?: (peer: string, reason: string) => void;
}

export interface GatewayStats {
  /** Connections whose header was valid and that were relayed. */
  relayed: number;
  /** Connections closed for a missing, malformed or late header. */
  refused: number;
}

export class ProxyProtocolGateway {
  readonly stats: GatewayStats = { relayed: 0, refused: 0 };
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly headerTimeoutMs: number;
  private readonly maxHeaderBytes: number;
  private readonly trust: TrustProxy | null;

  constructor(private readonly opts: GatewayOptions) {
    this.trust = opts.trust === undefined ? null : new TrustProxy(opts.trust, 'proxyProtocol.trust');
    this.headerTimeoutMs = opts.headerTimeoutMs ?? 5000;
    this.maxHeaderBytes = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.accept(s));
  }

  /** Binds the public address; resolves with the port bound (useful with port 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) =>
        reject(new HostdError('HOSTD_LISTEN', `cannot listen on ${this.opts.host}:${this.opts.port}: ${err.code ?? err.message}`));
      this.server.once('error', onError);
      this.server.listen({ host: this.opts.host, port: this.opts.port, backlog: 511 }, () => {
        this.server.off('error', onError);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Stops accepting; relayed connections go on until either side closes them. */
  close(): void {
    if (this.server.listening) this.server.close();
    this.checkDrained();
  }

  /** Resolves once close() was called and the last connection has ended. */
  drained(): Promise<void> {
    return new Promise((resolve) => {
      this.onDrained.push(resolve);
      this.checkDrained();
    });
  }

  private readonly onDrained: (() => void)[] = [];

  private checkDrained(): void {
    if (this.server.listening || this.sockets.size > 0) return;
    for (const f of this.onDrained.splice(0)) f();
  }

  /** Cuts every connection at once (after a graceful timeout). */
  destroyAll(): void {
    this.close();
    for (const s of this.sockets) s.destroy();
  }

  /** Client connections currently open (waiting for their header or relayed). */
  get connections(): number {
    return this.sockets.size;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (this.onDrained.length) this.checkDrained();
    });
    const peer = unmap(socket.remoteAddress ?? '');
    if (this.trust !== null && !this.trust.trusts(peer)) {
      this.stats.refused++;
      this.opts.onRefused?.(peer, 'not a trusted proxy (proxyProtocol.trust)');
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    let received: Buffer | undefined;
    const done = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
    };
    const refuse = (reason: string) => {
      done();
      this.stats.refused++;
      this.opts.onRefused?.(peer, reason);
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      received = received ? Buffer.concat([received, chunk]) : chunk;
      const r = parseProxyHeader(received, this.maxHeaderBytes);
      if (r.kind === 'incomplete') return;
      if (r.kind === 'invalid') return refuse(r.reason);
      done();
      socket.pause();
      this.relay(socket, r.header, received.subarray(r.length));
    };
    const onEnd = () => refuse('closed before a complete PROXY header');
    const timer = setTimeout(() => refuse(`no complete PROXY header within ${this.headerTimeoutMs} ms`), this.headerTimeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', () => socket.destroy());
  }

  private relay(socket: Socket, header: ProxyHeader, rest: Buffer): void {
    this.stats.relayed++;
    // LOCAL (a health check), UNKNOWN and AF_UNIX headers carry no client IP: the spec says to
    // use the connection's own endpoints, i.e. the proxy's.
    const peer: ProxyEndpoint = { address: unmap(socket.remoteAddress ?? '127.0.0.1'), port: socket.remotePort ?? 0 };
    const local: ProxyEndpoint = { address: unmap(socket.localAddress ?? '127.0.0.1'), port: socket.localPort ?? 0 };
    const source = header.command === 'proxy' && header.source ? header.source : peer;
    const destination = header.command === 'proxy' && header.destination ? header.destination : local;
    const upstream = connect({ path: this.opts.target, allowHalfOpen: true });
    upstream.write(rest.length ? Buffer.concat([encodeV2(source, destination), rest]) : encodeV2(source, destination));
    relayOneWay(socket, upstream);
    relayOneWay(upstream, socket);
    upstream.on('error', () => socket.destroy());
    upstream.once('close', () => socket.destroy());
    socket.once('close', () => upstream.destroy());
    socket.resume();
  }
}

/**
 * Copies `from` to `to` with backpressure (pause until drained) and forwards the end of input.
 * Plain listeners instead of stream.pipe: pipe's bookkeeping per chunk measurably costs on a
 * path every byte of the listener takes.
 */
function relayOneWay(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.once('end', () => to.end());
}

/**
 * A fresh path for the uWS side's Unix socket in a new 0700 directory, and the function that
 * removes it. Only this process's user can connect there, so only the gateway can hand uWS a
 * PROXY header.
 */
export function privateSocketPath(): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'hostd-pp-'));
  return { path: join(dir, 'uws.sock'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
