// A request body as the front receives it for an app: copied out of uWS's buffers, held until
// the request takes a worker (up to bufferBody, see app-mount.ts), paused when the app falls
// behind (upload backpressure), and watched for clients that send slower than bodyTimeout allows.
import type { HttpResponse } from 'uWebSockets.js';
import { UPLOAD_WINDOW } from '../../shared/protocol/index.js';

export class RequestBody {
  /** Chunks received before a worker took the request. */
  private held: ArrayBuffer[] | null = null;
  complete = false;
  /** Bytes received so far. */
  total = 0;
  /** Bytes received and not yet credited by the app. */
  private unacked = 0;
  /** Reading is paused (upload backpressure): the client is not the slow one then. */
  paused = false;
  /** bodyTimeout: when the current bufferBody-sized part of the body started, and its bytes so far. */
  windowStart: number;
  private windowBytes = 0;

  constructor(
    private readonly res: HttpResponse,
    private readonly bufferBody: number,
    start: number,
  ) {
    this.windowStart = start;
  }

  /**
   * Counts a chunk and returns a copy of it (uWS reuses the chunk's memory after the callback),
   * or null for an empty one. Pauses reading when the app is too far behind.
   */
  take(chunk: ArrayBuffer, isLast: boolean): ArrayBuffer | null {
    const n = chunk.byteLength;
    this.total += n;
    let copy: ArrayBuffer | null = null;
    if (n > 0) {
      copy = chunk.slice(0);
      this.unacked += n;
      this.windowBytes += n;
      if (this.windowBytes >= this.bufferBody) {
        this.windowBytes = 0;
        this.windowStart = performance.now();
      }
    }
    if (isLast) this.complete = true;
    else if (!this.paused && this.unacked > UPLOAD_WINDOW) {
      this.paused = true;
      this.res.pause();
    }
    return copy;
  }

  hold(copy: ArrayBuffer): void {
    (this.held ??= []).push(copy);
  }

  /** Takes what was held (the request has a worker now). */
  release(): ArrayBuffer[] | null {
    const h = this.held;
    this.held = null;
    return h;
  }

  /** The app consumed `bytes`: resume reading once it has caught up halfway. */
  credit(bytes: number, finished: boolean): void {
    this.unacked -= bytes;
    if (this.paused && !finished && this.unacked <= UPLOAD_WINDOW / 2) {
      this.paused = false;
      this.windowStart = performance.now();
      this.res.resume();
    }
  }

  /** Reading resumes (before an answer: uWS must read on for the response to go out). */
  resume(): void {
    if (this.paused) {
      this.paused = false;
      this.res.resume();
    }
  }
}
