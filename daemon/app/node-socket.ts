// The in-memory connections a node app is given where node:http would give it a TCP socket:
// what apps and middleware read of a socket (addresses, `encrypted`) and the no-op tuning calls
// they make (MemorySocket); the socket of one request/response pair, whose bytes go to the
// adapter (node-adapter.ts) as they are written (BridgeSocket); an upgrade's (ws-bridge.ts). Separate from the adapter because it is node:http's
// side of the emulation (what a net.Socket looks like), not the fetch side.
import { Duplex, type DuplexOptions } from 'node:stream';
import type { ServerResponse } from 'node:http';
import type { AppContext } from './types.js';
import { emitDrain } from './node-internals.js';

/** What apps and libraries read of a net.Socket, for a connection that lives in memory. */
export abstract class MemorySocket extends Duplex {
  remotePort = 0;
  localAddress = '127.0.0.1';
  localPort = 0;

  constructor(
    protected readonly ctx: AppContext,
    public encrypted: boolean,
    options: DuplexOptions,
  ) {
    super(options);
  }
  // Read from ctx on use: the address may have to be asked of the front (address-query.ts).
  get remoteAddress(): string {
    return this.ctx.remoteAddress;
  }
  get remoteFamily(): string {
    return this.ctx.remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
  }
  // What apps call on real sockets (SSE examples do all of these); nothing to do in memory.
  setTimeout(_ms: number, cb?: () => void): this {
    if (cb) this.once('timeout', cb);
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: 'IPv4', port: this.localPort };
  }
}

/** The socket of one request/response pair: the response's bytes go to `onChunk` as written. */
export class BridgeSocket extends MemorySocket {
  /** Set by ServerResponse.assignSocket. */
  _httpMessage: ServerResponse | null = null;
  onChunk: (chunk: string | Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void) => void = (_c, _e, cb) => cb();

  constructor(ctx: AppContext, encrypted: boolean) {
    super(ctx, encrypted, { decodeStrings: false, allowHalfOpen: true });
  }
  override _read(): void {
    // The request body goes to the IncomingMessage directly; nothing is read from here.
  }
  override _write(chunk: string | Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.onChunk(chunk, encoding, cb);
  }
}

/** ServerResponse relies on the http server to forward the socket's 'drain': this does it. */
export function forwardDrain(socket: BridgeSocket, res: ServerResponse): void {
  socket.on('drain', () => emitDrain(res));
}
