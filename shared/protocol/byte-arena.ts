// WebSocket messages of one batch, packed into one buffer that travels with the batch.
//
// A message's bytes must be copied when it is handed over (uWS reuses its memory after the
// callback; an app may reuse its buffer after send()). Copied each into a buffer of its own and
// structured-cloned, a 1 KiB message cost an allocation and two more copies on the way (clone,
// then the receiver's copy) and its share of the clone's per-object work: the largest part of a
// WebSocket hop. Here the messages of a batch are copied once into a shared buffer that is
// transferred (moved, not copied) with the batch, and each message is a view on it: the
// serializer writes the buffer once, and the views are cheap.
//
// A new buffer is started when the current one is full, or once it has left with its batch
// (a transferred ArrayBuffer is detached: its byteLength reads 0).

export interface TransferringOutbox {
  transfer(ab: ArrayBuffer): void;
}

const CHUNK = 32 * 1024;

export class ByteArena {
  private buf: ArrayBuffer | null = null;
  private off = 0;

  constructor(private readonly out: TransferringOutbox) {}

  /** A copy of `src` in the current batch's buffer. */
  copy(src: Uint8Array | ArrayBuffer): Uint8Array {
    const n = src.byteLength;
    let buf = this.buf;
    if (buf === null || buf.byteLength === 0 || this.off + n > buf.byteLength) {
      buf = this.buf = new ArrayBuffer(Math.max(n, CHUNK));
      this.off = 0;
      this.out.transfer(buf);
    }
    const view = new Uint8Array(buf, this.off, n);
    view.set(src instanceof ArrayBuffer ? new Uint8Array(src) : src);
    this.off += n;
    return view;
  }
}
