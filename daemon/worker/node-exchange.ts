// One request of a node-style app on the direct path: node:http's IncomingMessage and
// ServerResponse filled from the head the front sent and written straight into the request's
// answer (daemon/app/node-direct.ts takes over their write points). What the app writes is held
// until the outbox's next flush: a response ended by then leaves whole, in one resFull (compressed
// first when the mount compresses), like a fetch app's string response; one still open goes out
// streamed (head, then chunks as written) under the front's credit window: past RESPONSE_WINDOW
// unacknowledged bytes res.write() returns false and 'drain' waits for the front's credit, as on
// a slow socket. The client going away is 'aborted' on req and 'close' on req, res and the socket.
//
// The request body is pulled from the BodyFeeder at the app's pace (IncomingMessage's _read),
// credited to the front as the app takes it. What the server of node:http does around a response
// (dump an unread body, detach the socket, 'close' after 'finish') is done here as it does it.
import { Buffer } from 'node:buffer';
import { IncomingMessage, ServerResponse } from 'node:http';
import { errorText } from '../../shared/errors.js';
import { RESPONSE_WINDOW } from '../../shared/protocol/index.js';
import { kFeed, kSink, type RequestFeed, type ResponseSink } from '../app/node-direct.js';
import { abortError, emitDrain } from '../app/node-internals.js';
import type { NodeListener } from '../app/node-adapter.js';
import { stripMount } from '../app/node-request.js';
import { MemorySocket } from '../app/node-socket.js';
import type { AppContext } from '../app/types.js';
import type { BodySink } from './body-feeder.js';
import { contentLength, setWhole } from './app-response.js';
import { encodeHeaders, streamCompressor } from './compress-response.js';
import type { FrontLink } from './link.js';
import { headerAt } from './response-parts.js';
import type { RequestExchange, WorkerRequest } from './request.js';

type Cb = (err?: Error | null) => void;

function emitClose(res: ServerResponse): void {
  // node:http's emitCloseNT
  const o = res as unknown as { _closed: boolean; destroyed: boolean };
  if (o._closed) return;
  o.destroyed = true;
  o._closed = true;
  res.emit('close');
}

function afterFinish(x: NodeExchange): void {
  x.afterFinish();
}

/** The exchange's connection: destroying it (the client left, or the app cut it) is the exchange's business. */
class ExchangeSocket extends MemorySocket {
  /** Set by ServerResponse.assignSocket (done by hand here). */
  _httpMessage: ServerResponse | null = null;
  exchange: NodeExchange | null = null;

  constructor(ctx: AppContext, encrypted: boolean) {
    super(ctx, encrypted, { allowHalfOpen: true });
  }
  override _read(): void {
    // The request body goes to the IncomingMessage directly; nothing is read from here.
  }
  override _write(_chunk: unknown, _encoding: BufferEncoding, cb: Cb): void {
    cb(); // only an app writing to the socket itself gets here: nothing of the response goes this way
  }
  override _destroy(err: Error | null, cb: Cb): void {
    this.exchange?.socketGone();
    cb(err);
  }
}

class NodeExchange implements ResponseSink, RequestFeed, BodySink, RequestExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  private readonly socket: ExchangeSocket;
  /** What the app wrote before the first flush: sent whole if it ended by then. */
  private parts: (string | Uint8Array)[] | null = null;
  /** Bytes written but not yet counted in r.unacked (held in `parts`, or in the compressor). */
  private held = 0;
  /** Write callbacks waiting for the window to open. */
  private waiting: Cb[] | null = null;
  private ended = false;
  private bodyDone: boolean;
  private creditBound: (() => void) | null = null;

  constructor(
    private readonly link: FrontLink,
    private readonly r: WorkerRequest,
    method: string,
    url: string,
    flat: string[],
    ctx: AppContext,
  ) {
    // The path after the authority: "http://host/a?b" → "/a?b".
    const pathAt = url.indexOf('/', url.indexOf('//') + 2);
    const fullPath = pathAt < 0 ? '/' : url.slice(pathAt);
    const socket = (this.socket = new ExchangeSocket(ctx, url.startsWith('https:')));
    const req = (this.req = new IncomingMessage(socket as never));
    req.method = method;
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    req.httpVersion = '1.1';
    const mount = ctx.mount;
    req.url = stripMount(fullPath, mount);
    // Express keeps originalUrl and baseUrl when they are already set: the full path and the mount.
    const extra = req as unknown as Record<string, unknown>;
    extra.originalUrl = fullPath;
    if (mount !== '' && mount !== '/') extra.baseUrl = mount;
    if (headerAt(flat, 'host') < 0 && pathAt > 0) flat.push('host', url.slice(url.indexOf('//') + 2, pathAt));
    this.bodyDone = r.body === null;
    // A node server sees Content-Length or Transfer-Encoding on a request with a body; body
    // parsers (type-is's hasBody) skip bodies with neither.
    if (!this.bodyDone && headerAt(flat, 'content-length') < 0 && headerAt(flat, 'transfer-encoding') < 0) {
      flat.push('transfer-encoding', 'chunked');
    }
    // How node:http's parser fills headers/rawHeaders (its duplicate rules apply on first use).
    (req as unknown as { _addHeaderLines(h: string[], n: number): void })._addHeaderLines(flat, flat.length);
    (req as unknown as Record<symbol, RequestFeed>)[kFeed] = this;

    const res = (this.res = new ServerResponse(req));
    (res as unknown as Record<symbol, ResponseSink>)[kSink] = this;
    // assignSocket without its 'socket' event and flush (nothing is queued yet; nobody listens yet).
    socket._httpMessage = res;
    (res as unknown as { socket: ExchangeSocket }).socket = socket;
    socket.exchange = this;
    r.exchange = this;
  }

  /** The client went away: what a closing TCP socket does in node:http (socketGone follows). */
  abort(): void {
    this.socket.destroy();
  }

  // ------------------------------------------------------------ the response (ResponseSink)

  get gone(): boolean {
    return this.r.finished;
  }

  head(status: number, headers: string[]): void {
    const r = this.r;
    r.status = status;
    r.headers = headers;
    r.preparing = true;
    this.link.markDirty(r);
  }

  write(data: string | Uint8Array, encoding: BufferEncoding | null, cb: Cb | null): boolean {
    const r = this.r;
    const n = typeof data === 'string' ? data.length : data.byteLength;
    if (n > 0) {
      if (r.preparing || this.parts !== null) {
        // Before the first flush: held, so that an end() in this turn sends it whole.
        const part =
          typeof data === 'string' && encoding !== null && encoding !== 'utf8' && encoding !== 'utf-8' ? Buffer.from(data, encoding) : data;
        (this.parts ??= []).push(part);
        this.held += n;
      } else this.send(typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : data);
    }
    const open = r.unacked + this.held < RESPONSE_WINDOW;
    if (cb !== null) {
      if (open) process.nextTick(cb);
      else (this.waiting ??= []).push(cb);
    }
    if (!open) this.waitCredit();
    return open;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const r = this.r;
    if (r.finished) return;
    if (!r.preparing) {
      // Streamed: the end follows the last chunk (through the compressor, if any).
      const c = r.compressor;
      if (c === null) this.close();
      else
        c.end().then(
          (bytes) => {
            this.link.queueBytes(r, bytes);
            this.close();
          },
          (err) => this.link.fail(r, 500, `compressing the response failed: ${errorText(err)}`),
        );
    }
    // else: prepare() (at the flush) sends it whole
    // After 'finish' (its callback is the last write's: held, if the window is full).
    if (this.waiting !== null) this.waiting.push(() => afterFinish(this));
    else process.nextTick(afterFinish, this);
  }

  private close(): void {
    if (this.r.finished) return;
    this.r.ended = true;
    this.link.markDirty(this.r);
  }

  /** Streamed body bytes: to the outbox, through the compressor when there is one. */
  private send(bytes: Uint8Array): void {
    const r = this.r;
    const c = r.compressor;
    if (c === null) {
      this.link.queueBytes(r, bytes);
      return;
    }
    const n = bytes.byteLength;
    this.held += n;
    c.push(bytes).then(
      (out) => {
        this.held -= n;
        if (r.finished) return;
        this.link.queueBytes(r, out);
        this.credit();
      },
      (err) => this.link.fail(r, 500, `compressing the response failed: ${errorText(err)}`),
    );
  }

  /** Right before the head goes out: whole (ended by now) or streamed from here on. */
  prepare(): boolean {
    const r = this.r;
    const parts = this.parts;
    this.parts = null;
    this.held = 0;
    if (this.ended) {
      if (r.isHead) {
        // HEAD: the headers GET would get (node:http wrote no body for it).
        if (r.compress !== null) encodeHeaders(r.headers!, r.status, contentLength(r.headers!), r.compress, this.link.server.compression!);
        r.ended = true;
        return true;
      }
      let body: string | Uint8Array | null = null;
      if (parts !== null)
        body = parts.length === 1 ? parts[0]! : Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
      return setWhole(this.link, r, body, null);
    }
    if (r.compress !== null && !r.isHead) {
      const coding = encodeHeaders(r.headers!, r.status, -1, r.compress, this.link.server.compression!);
      if (coding !== null) r.compressor = streamCompressor(coding, this.link.server.compression!);
    }
    if (parts !== null) {
      for (const p of parts) {
        const bytes = typeof p === 'string' ? Buffer.from(p) : p;
        // Straight into this flush (marking the request dirty from inside a flush would strand it).
        if (r.compressor === null) r.addPending(bytes);
        else this.send(bytes);
      }
    }
    return true;
  }

  private waitCredit(): void {
    this.r.creditWait ??= this.creditBound ??= () => this.credit();
  }

  /** The front took bytes (or the compressor gave them back): release writers if the window is open. */
  private credit(): void {
    const r = this.r;
    if (r.finished) return;
    if (r.unacked + this.held >= RESPONSE_WINDOW) {
      this.waitCredit();
      return;
    }
    const cbs = this.waiting;
    this.waiting = null;
    if (cbs !== null) for (const cb of cbs) cb();
    emitDrain(this.res);
  }

  // ------------------------------------------------------------ node:http's server around it

  /** After 'finish' (node:http's resOnFinish): an unread body is dropped, res emits 'close'. */
  afterFinish(): void {
    const req = this.req as unknown as { _consuming: boolean; _readableState: { resumeScheduled: boolean }; _dump(): void };
    if (!this.bodyDone) {
      this.r.body!.cancel(); // the rest is credited to the front unread
      this.done(); // a read still waiting ends here
    }
    if (!req._consuming && !req._readableState.resumeScheduled) req._dump();
    if (this.socket._httpMessage === this.res) this.res.detachSocket(this.socket as never);
    process.nextTick(emitClose, this.res);
  }

  /**
   * The connection is gone: the client went away (link.abort), or the app destroyed the socket
   * (res.destroy(), req.socket.destroy()), which ends the exchange as it would a TCP connection.
   */
  socketGone(): void {
    const r = this.r;
    if (!r.finished) this.link.fail(r, 500, 'the app closed the connection without a complete response');
    if (this.socket._httpMessage === this.res) this.res.detachSocket(this.socket as never);
    process.nextTick(emitClose, this.res);
    // As node:http's abortIncoming: a request whose response was not ended emits 'aborted', then 'close'.
    if (!this.ended && !this.req.destroyed) this.req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    const cbs = this.waiting;
    this.waiting = null;
    if (cbs !== null) for (const cb of cbs) cb(abortError());
  }

  // ------------------------------------------------------------ the request body (RequestFeed, BodySink)

  read(): void {
    const req = this.req as unknown as { _consuming: boolean; _readableState: { readingMore: boolean } };
    // As IncomingMessage's own _read: the first read lifts the "don't read ahead" latch the
    // constructor sets, and marks the body as being consumed (so it is not dumped at the end).
    if (!req._consuming) {
      req._readableState.readingMore = false;
      req._consuming = true;
    }
    if (this.bodyDone) return this.done();
    this.r.body!.read(this);
  }

  chunk(bytes: Uint8Array): void {
    if (this.req.destroyed) return;
    this.req.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  done(): void {
    this.bodyDone = true;
    if (this.req.readableEnded || this.req.destroyed) return;
    this.req.complete = true;
    this.req.push(null);
  }

  failed(reason: unknown): void {
    this.bodyDone = true;
    if (!this.req.destroyed) this.req.destroy(reason instanceof Error ? reason : new Error(String(reason)));
  }

  /** Runs the app. */
  run(listener: NodeListener): void {
    const r = this.r;
    try {
      const ret = listener(this.req, this.res) as { then?: unknown } | undefined;
      if (ret && typeof ret.then === 'function') (ret as Promise<unknown>).then(undefined, (err) => this.link.fail(r, 500, errorText(err)));
    } catch (err) {
      this.link.fail(r, 500, errorText(err));
    }
    // As node:http's parser: a request without a body is complete as soon as its head is.
    if (r.body === null && !this.req.readableEnded && !this.req.destroyed) {
      this.req.complete = true;
      this.req.push(null);
    }
  }
}

/** Runs request `r` of a node-style app on the direct path. */
export function startNode(
  link: FrontLink,
  r: WorkerRequest,
  method: string,
  url: string,
  flat: string[],
  ctx: AppContext,
  listener: NodeListener,
): void {
  new NodeExchange(link, r, method, url, flat, ctx).run(listener);
}
