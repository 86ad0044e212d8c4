// One app request on the front thread: copies what it needs out of the uWS request, streams the
// body to the pool with upload backpressure, and writes the worker's response back with
// response backpressure (tryEnd/onWritable for a known length, chunked write otherwise).
import { Buffer } from 'node:buffer';
import type { HttpResponse } from 'uWebSockets.js';
import type { Exchange } from '../../daemon/pool/types.js';
import type { WorkerSlot } from '../../daemon/pool/slot.js';
import type { DaemonPool } from '../../daemon/pool/pool.js';
import { UPLOAD_WINDOW } from '../../shared/protocol.js';
import type { ErrorLog, RequestContext } from '../mount.js';
import { sendStatus, writeStatus } from '../respond.js';

/** What every exchange of one mount shares. */
export interface MountShared {
  readonly pool: DaemonPool;
  readonly log: ErrorLog;
  readonly vhostName: string;
  readonly mountLabel: string;
  readonly maxBodySize: number;
}

const RETRY_AFTER = { 'Retry-After': '1' };

/** The response resFull is writing (one at a time: cork runs its callback synchronously). */
const full = {
  ex: null as FrontExchange | null,
  status: 0,
  headers: null as string[] | null,
  body: null as string | Uint8Array | null,
  bytes: 0,
};
const writeFullCorked = (): void => {
  full.bytes = full.ex!.writeFull(full.status, full.headers!, full.body);
};

/**
 * Ends a response that has no body on the wire (HEAD, 204, 304). uWS v20.30: endWithoutBody(n)
 * with a length leaves the connection unusable, end(body) on HEAD sends the body anyway, and a
 * non-number argument aborts the process; so Content-Length (the length a GET would have had)
 * is written by hand and endWithoutBody() gets no argument. `close`: a Connection: close header
 * the client honours (the request body was not read). Must run corked.
 */
function endBodyless(res: HttpResponse, status: number, contentLength: number, close: boolean): void {
  if (contentLength >= 0 && status !== 204) res.writeHeader('Content-Length', String(contentLength));
  if (close) res.writeHeader('Connection', 'close');
  res.endWithoutBody();
}

export class FrontExchange implements Exchange {
  id = 0;
  slot: WorkerSlot | null = null;
  readonly arrival: number;
  finished = false;
  bodySent = false;
  readonly hasBody: boolean;
  readonly isHead: boolean;

  // upload
  private bodyBuf: ArrayBuffer[] | null = null;
  private bodyComplete = false;
  private bodyTotal = 0;
  private unacked = 0;
  private paused = false;

  // response
  private status = 0;
  private resHeaders: string[] | null = null;
  private headWritten = false;
  private contentLength = -1;
  private written = 0;
  private blocked = false;
  private writableHooked = false;
  private queued: Uint8Array[] | null = null;
  /** tryEnd leftovers: the chunk and the write offset it started at. */
  private pendingChunk: Uint8Array | null = null;
  private pendingBase = 0;
  /** write() bytes uWS buffered under backpressure, credited on drain. */
  private pendingCredit = 0;
  private endPending = false;

  constructor(
    private readonly m: MountShared,
    private readonly res: HttpResponse,
    private readonly ctx: RequestContext,
    readonly method: string,
    readonly url: string,
    readonly headers: string[],
    hasBody: boolean,
  ) {
    this.arrival = ctx.start;
    this.hasBody = hasBody;
    this.isHead = method === 'HEAD';
  }

  get remoteAddress(): string {
    return this.ctx.remoteAddress;
  }
  /** Part of the request body was never read: the answer closes the connection instead of reusing it. */
  private get bodyUnread(): boolean {
    return this.hasBody && !this.bodyComplete;
  }
  get knownRemoteAddress(): string | null {
    return this.ctx.knownRemoteAddress;
  }
  get requestId(): string {
    return this.ctx.requestId;
  }

  // ------------------------------------------------------------ client side events

  onAborted(): void {
    if (this.finished) return;
    this.finished = true;
    this.m.pool.abort(this);
    this.ctx.done(499, this.written);
  }

  onData(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.finished) return;
    const n = chunk.byteLength;
    this.bodyTotal += n;
    if (this.bodyTotal > this.m.maxBodySize) {
      this.tooLarge();
      return;
    }
    if (n > 0) {
      const copy = chunk.slice(0); // uWS reuses chunk's memory after this callback
      this.unacked += n;
      if (this.slot !== null) {
        this.m.pool.sendBody(this, copy);
        this.bodySent = true;
      } else (this.bodyBuf ??= []).push(copy);
    }
    if (isLast) {
      this.bodyComplete = true;
      if (this.slot !== null) this.m.pool.sendEnd(this);
    } else if (!this.paused && this.unacked > UPLOAD_WINDOW) {
      this.paused = true;
      this.res.pause();
    }
  }

  private tooLarge(): void {
    this.m.pool.abort(this);
    this.m.log.warn('request body over maxBodySize', this.fields({ limit: this.m.maxBodySize }));
    if (this.headWritten) {
      this.cut(413);
      return;
    }
    this.resumeIfPaused();
    this.finished = true;
    // Close: the rest of the body is not going to be read.
    const bytes = sendStatus(this.res, 413, { close: true });
    this.ctx.done(413, bytes);
  }

  uploadCredit(bytes: number): void {
    this.unacked -= bytes;
    if (this.paused && !this.finished && this.unacked <= UPLOAD_WINDOW / 2) {
      this.paused = false;
      this.res.resume();
    }
  }

  private resumeIfPaused(): void {
    if (this.paused) {
      this.paused = false;
      this.res.resume();
    }
  }

  // ------------------------------------------------------------ pool events

  dispatched(): void {
    const buf = this.bodyBuf;
    if (buf !== null) {
      this.bodyBuf = null;
      for (const ab of buf) this.m.pool.sendBody(this, ab);
      this.bodySent = true;
    }
    if (this.bodyComplete && this.hasBody) this.m.pool.sendEnd(this);
  }

  resFull(status: number, headers: string[], body: string | Uint8Array | null): void {
    if (this.finished) return;
    this.finished = true;
    // Corked through a shared callback and module state: no closure per response.
    full.ex = this;
    full.status = status;
    full.headers = headers;
    full.body = body;
    full.bytes = 0;
    this.res.cork(writeFullCorked);
    const bytes = full.bytes;
    full.ex = null;
    full.headers = null;
    full.body = null;
    this.written = bytes;
    this.ctx.done(status, bytes);
  }

  /** resFull's writes; runs corked. */
  writeFull(status: number, headers: string[], body: string | Uint8Array | null): number {
    const res = this.res;
    this.resumeIfPaused();
    writeStatus(res, status);
    const cl = this.writeHeaders(headers);
    const close = this.bodyUnread;
    if (this.isHead || status === 204 || status === 304) {
      endBodyless(res, status, cl, close);
      return 0;
    }
    if (body === null) {
      res.end('', close);
      return 0;
    }
    res.end(body, close);
    return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  }

  resHead(status: number, headers: string[]): void {
    // Written with the first body bytes: uWS only completes the header block then anyway.
    this.status = status;
    this.resHeaders = headers;
  }

  resBody(chunk: Uint8Array): void {
    if (this.finished) {
      // Bytes past a completed response (the app sent more than its Content-Length): discard,
      // but keep crediting so the worker reaches its end instead of stalling.
      if (this.slot !== null) this.m.pool.credit(this, chunk.byteLength);
      return;
    }
    if (this.blocked) {
      (this.queued ??= []).push(chunk);
      return;
    }
    this.res.cork(() => this.writeChunk(chunk));
  }

  resEnd(): void {
    if (this.finished) return;
    if (this.blocked) {
      this.endPending = true;
      return;
    }
    this.res.cork(() => this.writeEnd());
  }

  resError(status: number, detail: string): void {
    if (this.finished) return;
    this.m.log.error(status >= 500 ? 'app error' : 'bad request', this.fields({ status, error: detail }));
    this.answerError(status);
  }

  fail(status: number, reason: string): void {
    if (this.finished) return;
    if (status >= 500 && status !== 503) this.m.log.error(reason, this.fields({ status }));
    else this.m.log.warn(reason, this.fields({ status }));
    this.answerError(status);
  }

  // ------------------------------------------------------------ writing

  private answerError(status: number): void {
    if (this.headWritten) {
      this.cut(this.status);
      return;
    }
    this.finished = true;
    this.resumeIfPaused();
    const close = this.bodyUnread;
    const bytes = sendStatus(this.res, status, { headers: status === 503 ? RETRY_AFTER : undefined, head: this.isHead, close });
    this.ctx.done(status, bytes);
  }

  /** The head already went out: the only honest signal left is to cut the connection. */
  private cut(status: number): void {
    this.finished = true;
    this.ctx.done(status, this.written);
    this.res.close();
  }

  private fields(extra: Record<string, unknown>): Record<string, unknown> {
    return { vhost: this.m.vhostName, mount: this.m.mountLabel, requestId: this.ctx.requestId, ...extra };
  }

  /** Writes the app's headers minus framing ones uWS owns; returns its Content-Length or -1. */
  private writeHeaders(h: string[]): number {
    let cl = -1;
    const res = this.res;
    for (let i = 0; i < h.length; i += 2) {
      const k = h[i];
      if (k === 'content-length') {
        const v = Number(h[i + 1]);
        if (Number.isSafeInteger(v) && v >= 0) cl = v;
        continue;
      }
      if (k === 'transfer-encoding' || k === 'connection' || k === 'keep-alive') continue;
      res.writeHeader(k, h[i + 1]);
    }
    return cl;
  }

  private writeHead(): void {
    this.headWritten = true;
    this.resumeIfPaused();
    writeStatus(this.res, this.status);
    this.contentLength = this.writeHeaders(this.resHeaders ?? []);
    this.hookWritable();
  }

  private hookWritable(): void {
    if (!this.writableHooked) {
      this.writableHooked = true;
      this.res.onWritable((offset) => this.onWritable(offset));
    }
  }

  /** Must run corked. */
  private writeChunk(chunk: Uint8Array): void {
    if (!this.headWritten) this.writeHead();
    const res = this.res;
    const n = chunk.byteLength;
    if (this.contentLength >= 0) {
      const base = res.getWriteOffset();
      const [ok, done] = res.tryEnd(chunk, this.contentLength);
      if (done) {
        this.written = this.contentLength;
        this.m.pool.credit(this, n); // the worker may be waiting for it before it sees its end
        this.finishOk();
        return;
      }
      if (!ok) {
        this.blocked = true;
        this.pendingChunk = chunk;
        this.pendingBase = base;
        return;
      }
      this.written += n;
    } else {
      this.written += n;
      if (!res.write(chunk)) {
        // uWS buffered it; the worker hears about these bytes when the socket drains.
        this.blocked = true;
        this.pendingCredit += n;
        return;
      }
    }
    this.m.pool.credit(this, n);
  }

  private onWritable(offset: number): boolean {
    if (this.finished) return true;
    const chunk = this.pendingChunk;
    if (chunk !== null) {
      const [ok, done] = this.res.tryEnd(chunk.subarray(offset - this.pendingBase), this.contentLength);
      if (done) {
        this.written = this.contentLength;
        this.m.pool.credit(this, chunk.byteLength);
        this.finishOk();
        return true;
      }
      if (!ok) return false;
      this.pendingChunk = null;
      this.written += chunk.byteLength;
      this.m.pool.credit(this, chunk.byteLength);
    } else if (this.pendingCredit > 0) {
      this.m.pool.credit(this, this.pendingCredit);
      this.pendingCredit = 0;
    }
    this.blocked = false;
    const q = this.queued;
    if (q !== null) {
      while (q.length > 0 && !this.blocked && !this.finished) this.writeChunk(q.shift()!);
    }
    if (!this.blocked && this.endPending && !this.finished) this.writeEnd();
    return true;
  }

  /** Must run corked. */
  private writeEnd(): void {
    const res = this.res;
    if (!this.headWritten) {
      // Head and end with no body bytes in between.
      this.headWritten = true;
      this.finished = true;
      this.resumeIfPaused();
      writeStatus(res, this.status);
      const cl = this.writeHeaders(this.resHeaders ?? []);
      const bodyless = this.isHead || this.status === 204 || this.status === 304;
      if (bodyless || cl > 0) {
        if (!bodyless) {
          // Promised bytes that never came.
          this.m.log.error('app response shorter than its Content-Length', this.fields({ contentLength: cl }));
          this.cut(this.status);
          return;
        }
        endBodyless(res, this.status, cl, this.bodyUnread);
      } else res.end('', this.bodyUnread);
      this.ctx.done(this.status, 0);
      return;
    }
    if (this.contentLength >= 0) {
      // tryEnd completes the response when all bytes are out; reaching here means fewer came.
      this.m.log.error('app response shorter than its Content-Length', this.fields({ contentLength: this.contentLength, sent: this.written }));
      this.cut(this.status);
      return;
    }
    this.finished = true;
    res.end();
    this.ctx.done(this.status, this.written);
  }

  private finishOk(): void {
    // The worker's RES_END is still to come; until then the exchange stays attached (see resBody).
    this.finished = true;
    this.ctx.done(this.status, this.written);
  }
}
