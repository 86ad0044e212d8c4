// One app request on the front thread: copies what it needs out of the uWS request, reads the
// body (up to bufferBody before the request takes a worker, then streamed with upload
// backpressure: request-body.ts), and writes the worker's response back, whole in one corked
// call or streamed with response backpressure (response-stream.ts). Subclasses: a request that
// fills the response cache (fill-exchange.ts) and a WebSocket upgrade (ws/upgrade.ts).
import { Buffer } from 'node:buffer';
import type { HttpResponse } from 'uWebSockets.js';
import type { Dispatcher } from '../../daemon/dispatch/dispatcher.js';
import type { Exchange, Ticket } from '../../daemon/dispatch/types.js';
import type { Logger } from '../../shared/log.js';
import { endBodyless, sendStatus } from '../http/answer.js';
import { isBodyless, writeStatus } from '../http/status.js';
import type { RequestContext } from '../routing/mount.js';
import { RequestBody } from './request-body.js';
import { ResponseStream, type StreamOwner } from './response-stream.js';

/** What every exchange of one mount shares. */
export interface MountShared {
  readonly dispatcher: Dispatcher;
  readonly log: Logger;
  readonly maxBodySize: number;
  readonly bufferBody: number;
  /** A request is ready to take a worker (its body is buffered, or too large to buffer). */
  submit(ex: FrontExchange): void;
  /** The body finished arriving (or the request ended): stop watching its rate. */
  bodyDone(ex: FrontExchange): void;
}

const RETRY_AFTER = { 'Retry-After': '1' };

/** The response resFull is writing (one at a time: cork runs its callback synchronously). */
const full = { ex: null as FrontExchange | null, body: null as string | Uint8Array | null, bytes: 0 };
const writeFullCorked = (): void => {
  full.bytes = full.ex!.writeFull(full.body);
};

export class FrontExchange implements Exchange, StreamOwner {
  id = 0;
  ticket: Ticket | null = null;
  readonly arrival: number;
  finished = false;
  bodySent = false;
  readonly isHead: boolean;

  /** The request body as it arrives (request-body.ts). */
  readonly body: RequestBody;
  /** Handed to the dispatcher (after buffering the body, or at once when there is none). */
  submitted = false;

  // response: status and the head block the worker preformatted (see TO_FRONT in the protocol)
  protected status = 0;
  protected headName = '';
  protected headRest = '';
  protected contentLength = -1;
  /** A body streamed in chunks, once its head went out (response-stream.ts). */
  private stream: ResponseStream | null = null;
  /** On a mount with a response cache: its X-Cache header, said MISS on what the app answers. */
  cacheHeader: string | null = null;

  constructor(
    protected readonly m: MountShared,
    protected readonly res: HttpResponse,
    protected readonly ctx: RequestContext,
    readonly method: string,
    readonly url: string,
    /** The request headers the app gets (a cache fill swaps in its own: see cached.ts). */
    public headers: string[],
    readonly hasBody: boolean,
  ) {
    this.arrival = ctx.start;
    this.body = new RequestBody(res, m.bufferBody, ctx.start);
    this.isHead = method === 'HEAD';
  }

  get remoteAddress(): string {
    return this.ctx.remoteAddress;
  }
  get knownRemoteAddress(): string | null {
    return this.ctx.knownRemoteAddress;
  }
  get requestId(): string {
    return this.ctx.requestId;
  }
  /** Part of the request body was never read: the answer closes the connection instead of reusing it. */
  private get closeAfter(): boolean {
    return (this.hasBody && !this.body.complete) || this.ctx.closeConnection;
  }
  /** The head went out with the first chunk of a streamed body: from here, failing means cutting. */
  protected get headSent(): boolean {
    return this.stream !== null;
  }
  private get written(): number {
    return this.stream === null ? 0 : this.stream.written;
  }

  // ------------------------------------------------------------ client side events

  onAborted(): void {
    if (this.finished) return;
    this.finished = true;
    this.m.dispatcher.abort(this);
    this.m.bodyDone(this);
    this.ctx.done(499, this.written);
  }

  onData(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.finished) return;
    const body = this.body;
    if (body.total + chunk.byteLength > this.m.maxBodySize) return this.tooLarge();
    const copy = body.take(chunk, isLast);
    if (copy !== null) {
      if (this.ticket !== null) {
        this.m.dispatcher.sendBody(this, copy);
        this.bodySent = true;
      } else body.hold(copy);
    }
    if (isLast) {
      this.m.bodyDone(this);
      if (this.ticket !== null) this.m.dispatcher.sendEnd(this);
    }
    if (!this.submitted && (isLast || body.total > this.m.bufferBody)) this.m.submit(this);
  }

  private tooLarge(): void {
    this.m.dispatcher.abort(this);
    this.m.bodyDone(this);
    this.m.log.warn('request body over maxBodySize', this.fields({ limit: this.m.maxBodySize }));
    if (this.stream !== null) return this.cut(413);
    this.answerError(413);
  }

  /** The body arrived slower than bodyTimeout allows (see app-mount.ts). */
  bodyTooSlow(timeoutMs: number): void {
    if (this.finished) return;
    this.m.dispatcher.abort(this);
    this.m.log.warn('request body too slow: 408', this.fields({ bodyTimeoutMs: timeoutMs, received: this.body.total }));
    if (this.stream !== null) return this.cut(408);
    this.answerError(408);
  }

  uploadCredit(bytes: number): void {
    this.body.credit(bytes, this.finished);
  }

  protected resumeIfPaused(): void {
    this.body.resume();
  }

  // ------------------------------------------------------------ pool events

  dispatched(): void {
    const held = this.body.release();
    if (held !== null) {
      for (const ab of held) this.m.dispatcher.sendBody(this, ab);
      this.bodySent = true;
    }
    if (this.body.complete && this.hasBody) this.m.dispatcher.sendEnd(this);
  }

  resFull(status: number, headName: string, headRest: string, contentLength: number, body: string | Uint8Array | null): void {
    if (this.finished) return;
    this.setHead(status, headName, headRest, contentLength);
    this.answerWhole(body);
  }

  /** Writes the head set by setHead and a whole body. */
  protected answerWhole(body: string | Uint8Array | null): void {
    const status = this.status;
    this.finished = true;
    this.m.bodyDone(this);
    // Corked through a shared callback and module state: no closure per response.
    full.ex = this;
    full.body = body;
    full.bytes = 0;
    this.res.cork(writeFullCorked);
    const bytes = full.bytes;
    full.ex = null;
    full.body = null;
    this.ctx.done(status, bytes);
  }

  /** resFull's writes; runs corked. */
  writeFull(body: string | Uint8Array | null): number {
    const res = this.res;
    const status = this.status;
    this.resumeIfPaused();
    this.writeStatusAndHeaders();
    const close = this.closeAfter;
    if (isBodyless(status, this.isHead)) {
      endBodyless(res, status, this.contentLength, close);
      return 0;
    }
    if (body === null) {
      res.end('', close);
      return 0;
    }
    res.end(body, close);
    return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  }

  resHead(status: number, headName: string, headRest: string, contentLength: number): void {
    this.setHead(status, headName, headRest, contentLength);
  }

  protected setHead(status: number, headName: string, headRest: string, contentLength: number): void {
    // Written with the first body bytes: uWS only completes the header block then anyway.
    this.status = status;
    this.headName = headName;
    this.headRest = headRest;
    this.contentLength = contentLength;
  }

  resBody(chunk: Uint8Array): void {
    if (this.finished) {
      // Bytes past a completed response (the app sent more than its Content-Length): discard,
      // but keep crediting so the worker reaches its end instead of stalling.
      this.m.dispatcher.credit(this, chunk.byteLength);
      return;
    }
    if (this.stream !== null) return this.stream.push(chunk);
    this.res.cork(() => this.writeHead().write(chunk));
  }

  resEnd(): void {
    if (this.finished) return;
    if (this.stream !== null) return this.stream.end();
    this.res.cork(() => this.writeHeadAndEnd());
  }

  resError(status: number, detail: string): void {
    if (this.finished) return;
    this.m.log.error(status >= 500 ? 'app error' : 'bad request', this.fields({ status, error: detail }));
    if (this.recover(detail)) return;
    this.answerError(status);
  }

  /** The app failed (`reason`): true when something else answered the client (a cache's stale entry). */
  protected recover(_reason: string): boolean {
    return false;
  }

  fail(status: number, reason: string): void {
    if (this.finished) return;
    if (this.recover(reason)) return;
    if (status >= 500 && status !== 503) this.m.log.error(reason, this.fields({ status }));
    else this.m.log.warn(reason, this.fields({ status }));
    this.answerError(status);
  }

  /** Past the drain deadline: cut a response still streaming. */
  cut(status = this.status): void {
    if (this.finished) return;
    this.finished = true;
    this.m.bodyDone(this);
    this.ctx.done(status, this.written);
    this.res.close();
  }

  // ------------------------------------------------------------ writing

  private answerError(status: number): void {
    if (this.stream !== null) return this.cut(this.status); // the head went out: cutting is the only honest signal
    this.finished = true;
    this.m.bodyDone(this);
    this.resumeIfPaused();
    const bytes = sendStatus(this.res, status, {
      headers: status === 503 ? RETRY_AFTER : undefined,
      head: this.isHead,
      close: this.closeAfter || status === 408,
    });
    this.ctx.done(status, bytes);
  }

  protected fields(extra: Record<string, unknown>): Record<string, unknown> {
    return { requestId: this.ctx.requestId, ...extra };
  }

  /** The status line and the app's header block: one native call for all the headers. */
  private writeStatusAndHeaders(): void {
    writeStatus(this.res, this.status);
    if (this.headName !== '') this.res.writeHeader(this.headName, this.headRest);
    if (this.cacheHeader !== null) this.res.writeHeader(this.cacheHeader, 'MISS');
  }

  /** The head of a streamed body; runs corked. */
  private writeHead(): ResponseStream {
    this.resumeIfPaused();
    this.writeStatusAndHeaders();
    if (this.closeAfter) this.res.writeHeader('Connection', 'close');
    this.stream = new ResponseStream(this.res, this.contentLength, this);
    return this.stream;
  }

  /** Head and end with no body bytes in between; runs corked. */
  private writeHeadAndEnd(): void {
    this.finished = true;
    this.m.bodyDone(this);
    this.resumeIfPaused();
    this.writeStatusAndHeaders();
    const cl = this.contentLength;
    const bodyless = isBodyless(this.status, this.isHead);
    if (!bodyless && cl > 0) {
      // Promised bytes that never came.
      this.finished = false;
      return this.short(cl, 0);
    }
    if (bodyless) endBodyless(this.res, this.status, cl, this.closeAfter);
    else this.res.end('', this.closeAfter);
    this.ctx.done(this.status, 0);
  }

  // ------------------------------------------------------------ the stream's owner (response-stream.ts)

  credit(bytes: number): void {
    this.m.dispatcher.credit(this, bytes);
  }

  short(promised: number, sent: number): void {
    this.m.log.error('app response shorter than its Content-Length', this.fields({ contentLength: promised, sent }));
    this.cut(this.status);
  }

  complete(): void {
    // With a known length the worker's resEnd is still to come; until then the exchange stays
    // attached (see resBody).
    this.finished = true;
    this.m.bodyDone(this);
    this.ctx.done(this.status, this.written);
  }
}
