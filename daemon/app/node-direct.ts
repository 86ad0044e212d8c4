// The direct path for node-style apps: node:http's own IncomingMessage and ServerResponse (what
// Express, Fastify, Koa and every middleware are written against), with the four points where a
// ServerResponse turns into bytes on a socket taken over, so that the status and headers reach
// the worker as values and body chunks as they are written: no header block written as text and
// parsed back, no fetch Request/Response/ReadableStream/URL/AbortSignal in between.
//
// The points (node:http's _http_outgoing.js and _http_server.js, Node 20-24):
//  - _storeHeader(statusLine, headers): writeHead's last step (also reached through
//    _implicitHeader from write()/end()/flushHeaders()); normally builds `_header` as text.
//  - _send(data, encoding, cb): every body write, and end()'s final empty write (whose callback
//    emits 'finish'); normally prepends `_header` and writes to the socket.
//  - _writeRaw(data, encoding, cb): besides _send, only writeContinue/writeProcessing/
//    writeEarlyHints write through it: informational responses, which the front cannot forward.
//  - _finish(): end() calls it once everything is written: no more body.
//  - IncomingMessage's _read(): the request body, pulled at the app's pace.
// They are replaced on the prototypes (once per worker), and act only for objects that carry a
// sink (kSink / kFeed): every other ServerResponse and IncomingMessage in the worker (an http
// client's responses, a server the app really listens on) keeps node:http's own behaviour. The
// prototype rather than own properties: Express 5 replaces req's and res's prototypes with ones
// derived from these, and objects keep one shape.
import { IncomingMessage, ServerResponse } from 'node:http';
import { headValues } from './node-response-head.js';
import { kOutHeaders } from './node-internals.js';

/** Where a response's head and body go (daemon/worker/node-exchange.ts). */
export interface ResponseSink {
  /** The head, once: the status and the headers as a flat lowercase [name, value, ...] list. */
  head(status: number, headers: string[]): void;
  /**
   * Body bytes (or '' from end() and flushHeaders()). `cb` runs once they are taken; the result
   * is false when the app should wait for 'drain' (as a socket's write()).
   */
  write(data: string | Uint8Array, encoding: BufferEncoding | null, cb: ((err?: Error | null) => void) | null): boolean;
  /** end() was called and everything was written. */
  end(): void;
  /** Whether the client is gone (writes are then dropped, as on a destroyed socket). */
  readonly gone: boolean;
}

/** Where a request's body comes from: `read()` is IncomingMessage's _read. */
export interface RequestFeed {
  read(): void;
}

export const kSink: unique symbol = Symbol('hostd.responseSink');
export const kFeed: unique symbol = Symbol('hostd.requestFeed');

/** What `_header` holds on the direct path: headersSent is `!!_header`; the text itself is never used. */
const HEADER_TAKEN = 'HTTP/1.1 (taken by hostd)\r\n\r\n';

type Cb = ((err?: Error | null) => void) | null;
interface Outgoing {
  [kSink]?: ResponseSink;
  statusCode: number;
  _header: string | null;
  _headerSent: boolean;
}
interface Incoming {
  [kFeed]?: RequestFeed;
}

let installed = false;

/** Takes over the write points of ServerResponse and IncomingMessage's _read, in this worker (once). */
export function installDirectNode(): void {
  if (installed) return;
  if (kOutHeaders === undefined) throw new Error('hostd: node:http changed (no kOutHeaders on ServerResponse)');
  installed = true;
  const res = ServerResponse.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const storeHeader = res._storeHeader!;
  const send = res._send!;
  const writeRaw = res._writeRaw!;
  const finish = res._finish!;
  const outKey = kOutHeaders;

  res._storeHeader = function _storeHeader(this: Outgoing, statusLine: unknown, headers: unknown) {
    const sink = this[kSink];
    if (sink === undefined) return storeHeader.call(this, statusLine, headers);
    const flat = headValues(headers, (this as unknown as Record<symbol, unknown>)[outKey]);
    this._header = HEADER_TAKEN;
    this._headerSent = false;
    sink.head(this.statusCode, flat);
  };
  res._send = function _send(this: Outgoing, data: unknown, encoding: unknown, cb: unknown, byteLength: unknown) {
    const sink = this[kSink];
    if (sink === undefined) return send.call(this, data, encoding, cb, byteLength);
    this._headerSent = true;
    if (sink.gone) return false; // as _writeRaw on a destroyed socket: the callback never runs
    return sink.write(data as string | Uint8Array, (encoding as BufferEncoding | null) ?? null, (cb as Cb) ?? null);
  };
  res._writeRaw = function _writeRaw(this: Outgoing, data: unknown, encoding: unknown, cb: unknown, size: unknown) {
    if (this[kSink] === undefined) return writeRaw.call(this, data, encoding, cb, size);
    // An informational response (100/102/103): dropped, the front has no way to send one.
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  };
  res._finish = function _finish(this: Outgoing) {
    this[kSink]?.end();
    return finish.call(this);
  };

  const incoming = IncomingMessage.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const read = incoming._read!;
  incoming._read = function _read(this: Incoming, n: unknown) {
    const feed = this[kFeed];
    if (feed === undefined) return read.call(this, n);
    feed.read();
  };
}
