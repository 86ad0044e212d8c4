// Streams a byte range of an open file into a uWS response with backpressure: one read in
// flight, into one reused buffer; the next read starts only once uWS has taken the whole
// previous chunk (the front's BodySink), so a slow client costs one chunk of memory, not the file.
import type { FileHandle } from 'node:fs/promises';
import type { HttpResponse } from 'uWebSockets.js';
import { BodySink, type WriteResult } from '../http/sink.js';

export const CHUNK_BYTES = 256 * 1024;

export interface StreamHooks {
  /** Writes status and headers; called inside the cork of the first body chunk. */
  writeHead(): void;
  /** Called exactly once: sent all (`ok`), aborted by the client, or failed mid-way. */
  end(outcome: 'ok' | 'aborted' | 'error', bytes: number, err?: unknown): void;
}

export class FileStream {
  private readonly buf: Buffer;
  private readonly sink: BodySink;
  private pos: number; // file position of the next read
  private remaining: number; // bytes still to read from the file
  private reading = false;
  private started = false;
  private finished = false;
  private aborted = false;
  private closed = false;

  constructor(
    private readonly res: HttpResponse,
    private readonly fh: FileHandle,
    start: number,
    private readonly length: number,
    private readonly hooks: StreamHooks,
  ) {
    this.pos = start;
    this.remaining = length;
    this.buf = Buffer.allocUnsafeSlow(Math.max(1, Math.min(CHUNK_BYTES, length)));
    this.sink = new BodySink(res, length, (done) => this.after(done ? 'done' : 'ok'));
  }

  /** Begins streaming. The caller has registered res.onAborted and forwards it to `abort()`. */
  start(): void {
    if (this.length === 0) {
      // Nothing to read (an empty range cannot happen, but an empty file can).
      this.res.cork(() => {
        this.hooks.writeHead();
        this.res.end();
      });
      this.finish('ok');
      return;
    }
    this.readNext();
  }

  /** The client went away (from res.onAborted): stop, and close the file once no read is in flight. */
  abort(): void {
    if (this.finished) return;
    this.aborted = true;
    this.finish('aborted');
  }

  private readNext(): void {
    this.reading = true;
    const n = Math.min(this.buf.length, this.remaining);
    this.fh.read(this.buf, 0, n, this.pos).then(
      ({ bytesRead }) => this.onRead(bytesRead),
      (err) => this.onRead(-1, err),
    );
  }

  private onRead(bytesRead: number, err?: unknown): void {
    this.reading = false;
    if (this.aborted || this.finished) {
      this.closeFile();
      return;
    }
    if (bytesRead <= 0) {
      // Read error, or the file shrank below the Content-Length already promised: the only
      // honest thing left is to cut the connection.
      this.res.cork(() => this.res.close());
      this.finish('error', err ?? new Error('file shrank while streaming'));
      return;
    }
    this.pos += bytesRead;
    this.remaining -= bytesRead;
    const chunk = bytesRead === this.buf.length ? this.buf : this.buf.subarray(0, bytesRead);
    let result: WriteResult = 'ok';
    this.res.cork(() => {
      if (!this.started) {
        this.started = true;
        this.hooks.writeHead();
      }
      result = this.sink.write(chunk);
    });
    this.after(result);
  }

  private after(result: WriteResult): void {
    if (this.finished) return;
    if (result === 'done') this.finish('ok');
    else if (result === 'ok') this.readNext();
    // blocked: the sink calls back when the socket took the chunk
  }

  private finish(outcome: 'ok' | 'aborted' | 'error', err?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.reading) this.closeFile();
    this.hooks.end(outcome, this.sink.written, err);
  }

  private closeFile(): void {
    if (this.closed) return;
    this.closed = true;
    this.fh.close().catch(() => {});
  }

  /** Force-closes the connection (mount shutdown past its deadline). */
  kill(): void {
    if (this.finished) return;
    this.res.cork(() => this.res.close()); // fires onAborted -> abort()
  }
}
