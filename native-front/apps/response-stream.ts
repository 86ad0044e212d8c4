// The body of an app response that arrives in chunks (resBody … resEnd), written to the client
// through a BodySink. While the socket is full, chunks the worker already sent wait here and the
// worker gets no credit for them: it stops at its send window, so a slow client holds at most a
// window of the body in the front. Credit goes back as the socket takes the bytes.
import type { HttpResponse } from 'uWebSockets.js';
import { BodySink } from '../http/sink.js';

/** What the stream tells its exchange. */
export interface StreamOwner {
  /** The exchange is over (answered, cut or aborted): nothing more is written. */
  readonly finished: boolean;
  /** `bytes` left for the client: the worker may send that much more. */
  credit(bytes: number): void;
  /** The whole body went out (a known length reached, or the end of a chunked body). */
  complete(): void;
  /** The app ended with fewer bytes than its Content-Length promised. */
  short(promised: number, sent: number): void;
}

export class ResponseStream {
  private readonly sink: BodySink;
  private queued: Uint8Array[] | null = null;
  /** Bytes written but not yet taken by the socket, credited to the worker on drain. */
  private pendingCredit = 0;
  private endPending = false;

  /** `contentLength`: the body's length, or -1 (chunked). The head must already be written. */
  constructor(
    private readonly res: HttpResponse,
    contentLength: number,
    private readonly owner: StreamOwner,
  ) {
    this.sink = new BodySink(res, contentLength, (done) => this.drained(done));
  }

  /** Body bytes uWS has taken. */
  get written(): number {
    return this.sink.written;
  }

  /** A chunk from the worker: written now (corked), or queued behind a full socket. */
  push(chunk: Uint8Array): void {
    if (this.sink.blocked) (this.queued ??= []).push(chunk);
    else this.res.cork(() => this.write(chunk));
  }

  /** The worker's end: written once every queued chunk is out. */
  end(): void {
    if (this.sink.blocked) this.endPending = true;
    else this.res.cork(() => this.writeEnd());
  }

  /** Must run corked. */
  write(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    const r = this.sink.write(chunk);
    if (r === 'blocked') {
      this.pendingCredit += n;
      return;
    }
    this.owner.credit(n); // the worker may be waiting for it before it sends its end
    if (r === 'done') this.owner.complete();
  }

  private drained(done: boolean): void {
    if (this.owner.finished) return;
    if (this.pendingCredit > 0) {
      this.owner.credit(this.pendingCredit);
      this.pendingCredit = 0;
    }
    if (done) return this.owner.complete();
    const q = this.queued;
    this.res.cork(() => {
      while (q !== null && q.length > 0 && !this.sink.blocked && !this.owner.finished) this.write(q.shift()!);
      if (!this.sink.blocked && this.endPending && !this.owner.finished) this.writeEnd();
    });
  }

  /** Must run corked. */
  private writeEnd(): void {
    // With a known length, tryEnd completes the response when all bytes are out: reaching the
    // end first means fewer came.
    if (this.sink.total >= 0) return this.owner.short(this.sink.total, this.written);
    this.res.end();
    this.owner.complete();
  }
}
