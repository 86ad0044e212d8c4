// A request on a mount with a response cache that may fill it: an ordinary exchange whose
// response also feeds the cache's filler once it holds the fetch for its URL (`tap`). The cache
// decides on the head: the client may get its answer from an entry instead (a 304 from the app
// renewed it, or stale-if-error), or a 304 of its own while the fill goes on.
import { Buffer } from 'node:buffer';
import type { HttpResponse } from 'uWebSockets.js';
import type { RequestContext } from '../routing/mount.js';
import { type CacheTap, headHeaders } from './cached.js';
import { FrontExchange, type MountShared } from './front-exchange.js';

export class FillExchange extends FrontExchange {
  /** Set when this request holds the fetch of its URL (see app-mount.ts fromCache). */
  tap: CacheTap | null = null;

  constructor(m: MountShared, res: HttpResponse, ctx: RequestContext, method: string, url: string, headers: string[]) {
    super(m, res, ctx, method, url, headers, false);
  }

  override onAborted(): void {
    if (!this.finished) this.tap?.filler.abort(new Error('the client went away'));
    super.onAborted();
  }

  override resFull(status: number, headName: string, headRest: string, contentLength: number, body: string | Uint8Array | null): void {
    const tap = this.tap;
    if (tap === null) return super.resFull(status, headName, headRest, contentLength, body);
    if (this.finished) return;
    this.setHead(status, headName, headRest, contentLength);
    const bytes = body === null ? null : typeof body === 'string' ? Buffer.from(body) : body;
    if (!this.tapHead(tap, bytes?.byteLength ?? contentLength)) return;
    if (bytes !== null) tap.filler.body(bytes);
    tap.filler.end();
    if (!this.finished) this.answerWhole(body);
  }

  override resHead(status: number, headName: string, headRest: string, contentLength: number): void {
    super.resHead(status, headName, headRest, contentLength);
    if (this.tap !== null) this.tapHead(this.tap, contentLength);
  }

  override resBody(chunk: Uint8Array): void {
    this.tap?.filler.body(chunk);
    super.resBody(chunk);
  }

  override resEnd(): void {
    this.tap?.filler.end();
    super.resEnd();
  }

  /** The app failed before its head: a stale entry answers if stale-if-error allows it. */
  protected override recover(reason: string): boolean {
    const tap = this.tap;
    if (tap === null || this.headSent) return false;
    const stale = tap.filler.abort(new Error(reason));
    if (stale === null) return false;
    this.answerFrom(() => tap.serve(this.res, stale, this.isHead, 'STALE'));
    return true;
  }

  /**
   * Hands the head to the filler: answers from an entry, or a 304 for the client (the fill goes
   * on), or lets the app's answer through. False when the filler is done with this response.
   */
  private tapHead(tap: CacheTap, length: number): boolean {
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
    this.finished = true;
    this.m.bodyDone(this);
    this.resumeIfPaused();
    const w = write();
    this.ctx.done(w.status, w.bytes);
  }
}
