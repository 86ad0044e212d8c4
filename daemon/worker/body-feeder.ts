// A request body fed by REQ_BODY messages, read either as a ReadableStream (request.body) or, on
// the fast path, collected whole (request.arrayBuffer()/text()/json()/bytes() on a light request,
// with no stream at all). On the stream path each chunk is credited back to the front only when
// the app actually reads it, so an app that reads slowly (or not at all) pauses the client's
// upload at the socket instead of the body piling up in memory. Collecting credits on arrival:
// the app asked for the whole body (the front's maxBodySize bounds it).
export class BodyFeeder {
  private queue: Uint8Array[] = [];
  private ended = false;
  private waiting = false;
  private cancelled = false;
  private failed: { reason: unknown } | null = null;
  private ctrl: ReadableStreamDefaultController<Uint8Array> | null = null;
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
        cancel: () => {
          // The app gave up on the body: keep crediting so the front can finish reading it.
          this.cancelled = true;
          let n = 0;
          for (const c of this.queue) n += c.byteLength;
          this.queue = [];
          if (n > 0) this.credit(n);
        },
      },
      { highWaterMark: 0 },
    );
    return this._stream;
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
    this.ctrl!.enqueue(chunk);
    this.credit(chunk.byteLength);
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
      this.ctrl!.close();
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
    if (this.ctrl !== null) {
      try {
        this.ctrl.error(reason);
      } catch {
        // already closed
      }
    }
  }
}
