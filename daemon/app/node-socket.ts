// The in-memory connection a node app's request/response pair is attached to, standing in for
// the TCP socket node:http would give it: what apps and middleware read of a socket (addresses,
// `encrypted`), the no-op tuning calls they make, and the response's bytes handed to the adapter
// (node-adapter.ts) as they are written. Separate from the adapter because it is node:http's
// side of the emulation (what a net.Socket looks like), not the fetch side.
import { Duplex } from 'node:stream';
import type { ServerResponse } from 'node:http';
import type { AppContext } from './types.js';

export class BridgeSocket extends Duplex {
  remotePort = 0;
  localAddress = '127.0.0.1';
  localPort = 0;
  encrypted: boolean;
  /** Set by ServerResponse.assignSocket. */
  _httpMessage: ServerResponse | null = null;
  onChunk: (chunk: string | Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void) => void = (_c, _e, cb) => cb();

  constructor(
    private readonly ctx: AppContext,
    encrypted: boolean,
  ) {
    super({ decodeStrings: false, allowHalfOpen: true });
    this.encrypted = encrypted;
  }
  // Read from ctx on use: the address may have to be asked of the front (address-query.ts).
  get remoteAddress(): string {
    return this.ctx.remoteAddress;
  }
  get remoteFamily(): string {
    return this.ctx.remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
  }
  override _read(): void {
    // The request body goes to the IncomingMessage directly; nothing is read from here.
  }
  override _write(chunk: string | Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.onChunk(chunk, encoding, cb);
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

function kNeedDrainOf(res: ServerResponse): symbol | undefined {
  return Object.getOwnPropertySymbols(res).find((s) => s.description === 'kNeedDrain');
}

/** ServerResponse relies on the http server to forward the socket's 'drain': this does it. */
export function forwardDrain(socket: BridgeSocket, res: ServerResponse): void {
  socket.on('drain', () => {
    if (!res.writableNeedDrain) return;
    const k = kNeedDrainOf(res);
    if (k) (res as unknown as Record<symbol, boolean>)[k] = false;
    res.emit('drain');
  });
}
