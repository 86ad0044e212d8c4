// A request body fed by REQ_BODY messages, read either as a ReadableStream (request.body), pulled
// chunk by chunk by a node app's IncomingMessage (read(), no stream at all), or, on the fast path,
// collected whole (request.arrayBuffer()/text()/json()/bytes() on a light request). On the stream
// and pull paths each chunk is credited back to the front only when the app actually reads it, so an app that reads slowly (or not at all) pauses the client's
// upload at the socket instead of the body piling up in memory. Collecting credits on arrival:
// the app asked for the whole body (the front's maxBodySize bounds it).
/** Who takes the chunks on the pull path (daemon/worker/node-exchange.ts). */
export interface BodySink {
  chunk(bytes: Uint8Array): void;
  done(): void;
  failed(reason: unknown): void;
}

export class BodyFeeder {
  private queue: Uint8Array[] = [];
  private ended = false;
  private waiting = false;
  private cancelled = false;
  private failed: { reason: unknown } | null = null;
  private ctrl: ReadableStreamDefaultController<Uint8Array> | null = null;
  /** The pull path's reader, once it has asked for a chunk that had not arrived yet. */
  private sink: BodySink | null = null;
  private _stream: ReadableStream<Uint8Array> | null = null;
  private collecting: { resolve(b: Uint8Array): void; reject(e: unknown): void; bytes: number } | null = null;

  constructor(private readonly credit: (bytes: number) => void) {}

  /** The body as a stream (created on first use; the queue so far is read first). */
  get stream(): ReadableStream<Uint8Array> {
    if (this._stream !== null) return this._stream;
    this._stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.ctrl = c;
          if (this.failed !== null) c.error(this.failed.reason);
        },
        pull: () => {
          if (this.failed !== null) return;
          const next = this.queue.shift();
          if (next !== undefined) this.deliver(next);
          else if (this.ended) this.ctrl!.close();
          else this.waiting = true;
        },
        cancel: () => this.cancel(),
      },
      { highWaterMark: 0 },
    );
    return this._stream;
  }

  /**
   * The pull path: the next chunk goes to `sink` now if it is here, or when it arrives (one
   * chunk per call; the end and an error too). Credited as delivered, like the stream path.
   */
  read(sink: BodySink): void {
    if (this.failed !== null) return sink.failed(this.failed.reason);
    const next = this.queue.shift();
    if (next !== undefined) {
      this.credit(next.byteLength);
      sink.chunk(next);
    } else if (this.ended) sink.done();
    else {
      this.sink = sink;
      this.waiting = true;
    }
  }

  /** The app gave up on the body: keep crediting so the front can finish reading it. */
  cancel(): void {
    this.cancelled = true;
    this.sink = null;
    let n = 0;
    for (const c of this.queue) n += c.byteLength;
    this.queue = [];
    if (n > 0) this.credit(n);
  }

  /** The whole body in one buffer (fast path; only when the stream was never created). */
  collect(): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      if (this.failed !== null) return reject(this.failed.reason);
      let bytes = 0;
      for (const c of this.queue) bytes += c.byteLength;
      if (bytes > 0) this.credit(bytes);
      this.collecting = { resolve, reject, bytes };
      if (this.ended) this.finishCollect();
    });
  }

  private finishCollect(): void {
    const c = this.collecting!;
    this.collecting = null;
    const parts = this.queue;
    this.queue = [];
    if (parts.length === 1 && parts[0].byteOffset === 0 && parts[0].byteLength === parts[0].buffer.byteLength) {
      c.resolve(parts[0]); // a transferred buffer of our own: no copy
      return;
    }
    const out = new Uint8Array(c.bytes);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.byteLength;
    }
    c.resolve(out);
  }

  private deliver(chunk: Uint8Array): void {
    const sink = this.sink;
    this.credit(chunk.byteLength);
    if (sink !== null) {
      this.sink = null;
      sink.chunk(chunk);
    } else this.ctrl!.enqueue(chunk);
  }

  push(chunk: Uint8Array): void {
    if (this.cancelled || this.failed !== null) {
      this.credit(chunk.byteLength);
    } else if (this.collecting !== null) {
      this.queue.push(chunk);
      this.collecting.bytes += chunk.byteLength;
      this.credit(chunk.byteLength);
    } else if (this.waiting) {
      this.waiting = false;
      this.deliver(chunk);
    } else {
      this.queue.push(chunk);
    }
  }

  end(): void {
    this.ended = true;
    if (this.collecting !== null) this.finishCollect();
    else if (this.waiting && !this.cancelled) {
      this.waiting = false;
      const sink = this.sink;
      this.sink = null;
      if (sink !== null) sink.done();
      else this.ctrl!.close();
    }
  }

  error(reason: unknown): void {
    if (this.cancelled || this.failed !== null) return;
    this.failed = { reason };
    this.queue = [];
    if (this.collecting !== null) {
      const c = this.collecting;
      this.collecting = null;
      c.reject(reason);
    }
    const sink = this.sink;
    this.sink = null;
    sink?.failed(reason);
    if (this.ctrl !== null) {
      try {
        this.ctrl.error(reason);
      } catch {
        // already closed
      }
    }
  }
}
