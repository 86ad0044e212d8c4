// A request body as a ReadableStream fed by REQ_BODY messages. Each chunk is credited back to the
// front only when the app actually reads it, so an app that reads slowly (or not at all) pauses
// the client's upload at the socket instead of the body piling up in memory.
export class BodyFeeder {
  private queue: Uint8Array[] = [];
  private ended = false;
  private waiting = false;
  private cancelled = false;
  private ctrl!: ReadableStreamDefaultController<Uint8Array>;
  readonly stream: ReadableStream<Uint8Array>;

  constructor(private readonly credit: (bytes: number) => void) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.ctrl = c;
        },
        pull: () => {
          const next = this.queue.shift();
          if (next !== undefined) this.deliver(next);
          else if (this.ended) this.ctrl.close();
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
  }

  private deliver(chunk: Uint8Array): void {
    this.ctrl.enqueue(chunk);
    this.credit(chunk.byteLength);
  }

  push(chunk: Uint8Array): void {
    if (this.cancelled) {
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
    if (this.waiting && !this.cancelled) {
      this.waiting = false;
      this.ctrl.close();
    }
  }

  error(reason: unknown): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.queue = [];
    try {
      this.ctrl.error(reason);
    } catch {
      // already closed
    }
  }
}
