// Writing a body into a uWS response with backpressure: the one loop static file streams and
// streamed app responses share. A write either goes out (or into uWS's buffer without growing it
// past what the socket drains), or blocks: the sink keeps what uWS did not take and calls
// `drained` once the socket took it, and the producer sends the next chunk only then. A slow
// client therefore costs one chunk of memory, not the body.
import type { HttpResponse } from 'uWebSockets.js';

export type WriteResult = 'ok' | 'blocked' | 'done';

export class BodySink {
  /** tryEnd leftovers: the chunk and the write offset it started at. */
  private pending: Uint8Array | null = null;
  private pendingBase = 0;
  private blockedChunked = false;
  /** Body bytes uWS has taken. */
  written = 0;
  private hooked = false;

  /**
   * `total`: the body's length (written with tryEnd, uWS sets Content-Length), or -1 for a body
   * of unknown length (chunked transfer coding). `drained(done)`: a blocked write completed;
   * `done` when that completed the whole response.
   */
  constructor(
    private readonly res: HttpResponse,
    readonly total: number,
    private readonly drained: (done: boolean) => void,
  ) {}

  get blocked(): boolean {
    return this.pending !== null || this.blockedChunked;
  }

  /** Writes `chunk`; must run corked and not while blocked. */
  write(chunk: Uint8Array): WriteResult {
    const res = this.res;
    this.hook();
    if (this.total < 0) {
      this.written += chunk.byteLength;
      if (res.write(chunk)) return 'ok';
      this.blockedChunked = true; // uWS buffered it; wait for the socket to drain
      return 'blocked';
    }
    const base = res.getWriteOffset();
    const [ok, done] = res.tryEnd(chunk, this.total);
    if (done) {
      this.written = this.total;
      return 'done';
    }
    if (ok) {
      this.written += chunk.byteLength;
      return 'ok';
    }
    this.pending = chunk;
    this.pendingBase = base;
    return 'blocked';
  }

  private hook(): void {
    if (!this.hooked) {
      this.hooked = true;
      this.res.onWritable((offset) => this.onWritable(offset));
    }
  }

  private onWritable(offset: number): boolean {
    if (this.blockedChunked) {
      this.blockedChunked = false;
      this.drained(false);
      return true;
    }
    const chunk = this.pending;
    if (chunk === null) return true;
    let ok = false;
    let done = false;
    this.res.cork(() => {
      [ok, done] = this.res.tryEnd(chunk.subarray(offset - this.pendingBase), this.total);
    });
    if (done) {
      this.pending = null;
      this.written = this.total;
      this.drained(true);
      return true;
    }
    if (!ok) return false;
    this.pending = null;
    this.written += chunk.byteLength;
    this.drained(false);
    return true;
  }
}
