// One app request on the front thread: copies what it needs out of the uWS request, reads the
// body (up to bufferBody before the request takes a worker, then streamed with upload
// backpressure), and writes the worker's response back with response backpressure.
import { Buffer } from 'node:buffer';
import type { HttpResponse } from 'uWebSockets.js';
import type { Dispatcher } from '../../daemon/dispatch/dispatcher.js';
import type { Exchange, Ticket } from '../../daemon/dispatch/types.js';
import type { Logger } from '../../shared/log.js';
import { endBodyless, sendStatus } from '../http/answer.js';
import { BodySink, type WriteResult } from '../http/sink.js';
import { isBodyless, writeStatus } from '../http/status.js';
import type { RequestContext } from '../mount.js';
import { headHeaders, type CacheTap } from './cached.js';
import { RequestBody } from './request-body.js';

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

export class FrontExchange implements Exchange {
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
  private status = 0;
  private headName = '';
  private headRest = '';
  private contentLength = -1;
  private sink: BodySink | null = null;
  private queued: Uint8Array[] | null = null;
  /** Bytes written but not yet taken by the socket, credited to the worker on drain. */
  private pendingCredit = 0;
  private endPending = false;
  /** The response cache's view of this request when it fills the cache (see cached.ts). */
  tap: CacheTap | null = null;
  /** On a mount with a response cache: its X-Cache header, said MISS on what the app answers. */
  cacheHeader: string | null = null;
  /** The client got its answer another way (from the cache): the app's body only feeds the tap. */
  private answered = false;

  constructor(
    private readonly m: MountShared,
    private readonly res: HttpResponse,
    private readonly ctx: RequestContext,
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
  private get written(): number {
    return this.sink === null ? 0 : this.sink.written;
  }

  // ------------------------------------------------------------ client side events

  onAborted(): void {
    if (this.finished) return;
    this.finished = true;
    this.tap?.filler.abort(new Error('the client went away'));
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
    if (this.sink !== null) return this.cut(413);
    this.answerError(413);
  }

  /** The body arrived slower than bodyTimeout allows (see app-mount.ts). */
  bodyTooSlow(timeoutMs: number): void {
    if (this.finished) return;
    this.m.dispatcher.abort(this);
    this.m.log.warn('request body too slow: 408', this.fields({ bodyTimeoutMs: timeoutMs, received: this.body.total }));
    if (this.sink !== null) return this.cut(408);
    this.answerError(408);
  }

  uploadCredit(bytes: number): void {
    this.body.credit(bytes, this.finished);
  }

  private resumeIfPaused(): void {
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
    if (this.tap !== null) {
      const bytes = body === null ? null : typeof body === 'string' ? Buffer.from(body) : body;
      if (this.tapHead(bytes?.byteLength ?? contentLength)) {
        if (bytes !== null) this.tap.filler.body(bytes);
        this.tap.filler.end();
        if (this.answered) return;
      } else return;
    }
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
    if (this.tap !== null) this.tapHead(contentLength);
  }

  private setHead(status: number, headName: string, headRest: string, contentLength: number): void {
    // Written with the first body bytes: uWS only completes the header block then anyway.
    this.status = status;
    this.headName = headName;
    this.headRest = headRest;
    this.contentLength = contentLength;
  }

  /**
   * The cache decides on the head: answer from an entry (a 304 renewed it, stale-if-error), a 304
   * for the client (the fill goes on), or stream the app's answer on. Returns false when the
   * filler is done with this response (the client was answered from an entry).
   */
  private tapHead(length: number): boolean {
    const tap = this.tap!;
    const flat = headHeaders(this.headName, this.headRest, length);
    const d = tap.filler.head(this.status, flat);
    if (d.kind === 'serve') {
      this.answerFrom(() => tap.serve(this.res, d.entry, this.isHead, d.label));
      return false;
    }
    if (d.notModified) {
      this.answerFrom(() => {
        tap.notModified(this.res, flat);
        return { status: 304, bytes: 0 };
      });
    }
    return true;
  }

  /** The client is answered from the cache; what the app still sends only feeds the tap. */
  private answerFrom(write: () => { status: number; bytes: number }): void {
    this.answered = true;
    this.finished = true;
    this.m.bodyDone(this);
    this.resumeIfPaused();
    const w = write();
    this.ctx.done(w.status, w.bytes);
  }

  resBody(chunk: Uint8Array): void {
    this.tap?.filler.body(chunk);
    if (this.finished) {
      // Bytes past a completed response (the app sent more than its Content-Length): discard,
      // but keep crediting so the worker reaches its end instead of stalling.
      this.m.dispatcher.credit(this, chunk.byteLength);
      return;
    }
    if (this.sink?.blocked) {
      (this.queued ??= []).push(chunk);
      return;
    }
    this.res.cork(() => this.writeChunk(chunk));
  }

  resEnd(): void {
    this.tap?.filler.end();
    if (this.finished) return;
    if (this.sink?.blocked) {
      this.endPending = true;
      return;
    }
    this.res.cork(() => this.writeEnd());
  }

  resError(status: number, detail: string): void {
    if (this.finished) return;
    this.m.log.error(status >= 500 ? 'app error' : 'bad request', this.fields({ status, error: detail }));
    if (this.staleIfError(detail)) return;
    this.answerError(status);
  }

  /** The app failed before its head: a stale entry answers if stale-if-error allows it. */
  private staleIfError(reason: string): boolean {
    const tap = this.tap;
    if (tap === null || this.sink !== null) return false;
    const stale = tap.filler.abort(new Error(reason));
    if (stale === null) return false;
    this.answerFrom(() => tap.serve(this.res, stale, this.isHead, 'STALE'));
    return true;
  }

  fail(status: number, reason: string): void {
    if (this.finished) return;
    if (this.staleIfError(reason)) return;
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
    if (this.sink !== null) return this.cut(this.status); // the head went out: cutting is the only honest signal
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

  private fields(extra: Record<string, unknown>): Record<string, unknown> {
    return { requestId: this.ctx.requestId, ...extra };
  }

  /** The status line and the app's header block: one native call for all the headers. */
  private writeStatusAndHeaders(): void {
    writeStatus(this.res, this.status);
    if (this.headName !== '') this.res.writeHeader(this.headName, this.headRest);
    if (this.cacheHeader !== null) this.res.writeHeader(this.cacheHeader, 'MISS');
  }

  private writeHead(): void {
    this.resumeIfPaused();
    this.writeStatusAndHeaders();
    if (this.closeAfter) this.res.writeHeader('Connection', 'close');
    this.sink = new BodySink(this.res, this.contentLength, (done) => this.drained(done));
  }

  /** Must run corked. */
  private writeChunk(chunk: Uint8Array): void {
    if (this.sink === null) this.writeHead();
    const n = chunk.byteLength;
    const r: WriteResult = this.sink!.write(chunk);
    if (r === 'blocked') {
      this.pendingCredit += n;
      return;
    }
    this.m.dispatcher.credit(this, n); // the worker may be waiting for it before it sends its end
    if (r === 'done') this.finishOk();
  }

  private drained(done: boolean): void {
    if (this.finished) return;
    if (this.pendingCredit > 0) {
      this.m.dispatcher.credit(this, this.pendingCredit);
      this.pendingCredit = 0;
    }
    if (done) return this.finishOk();
    const q = this.queued;
    this.res.cork(() => {
      while (q !== null && q.length > 0 && !this.sink!.blocked && !this.finished) this.writeChunk(q.shift()!);
      if (!this.sink!.blocked && this.endPending && !this.finished) this.writeEnd();
    });
  }

  /** Must run corked. */
  private writeEnd(): void {
    const res = this.res;
    if (this.sink === null) {
      // Head and end with no body bytes in between.
      this.finished = true;
      this.m.bodyDone(this);
      this.resumeIfPaused();
      this.writeStatusAndHeaders();
      const cl = this.contentLength;
      const bodyless = isBodyless(this.status, this.isHead);
      if (!bodyless && cl > 0) {
        // Promised bytes that never came.
        this.m.log.error('app response shorter than its Content-Length', this.fields({ contentLength: cl }));
        this.finished = false;
        return this.cut(this.status);
      }
      if (bodyless) endBodyless(res, this.status, cl, this.closeAfter);
      else res.end('', this.closeAfter);
      this.ctx.done(this.status, 0);
      return;
    }
    if (this.sink.total >= 0) {
      // tryEnd completes the response when all bytes are out; reaching here means fewer came.
      this.m.log.error('app response shorter than its Content-Length', this.fields({ contentLength: this.sink.total, sent: this.written }));
      return this.cut(this.status);
    }
    this.finished = true;
    this.m.bodyDone(this);
    res.end();
    this.ctx.done(this.status, this.written);
  }

  private finishOk(): void {
    // The worker's resEnd is still to come; until then the exchange stays attached (see resBody).
    this.finished = true;
    this.m.bodyDone(this);
    this.ctx.done(this.status, this.written);
  }
}
