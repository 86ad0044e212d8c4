// The binary framing between a front and a daemon process (one Unix socket per front per daemon
// process). A frame is [u32 payload length][u32 key][payload]: `key` is the pool worker key of
// the thread the batch is for (or from), and the payload is one batch of the same protocol tables
// as thread pools (shared/protocol/table.ts), encoded with v8.serialize: it writes every field
// type of the tables (numbers, strings, null, header arrays, ArrayBuffers and Uint8Arrays as
// bytes), so nothing here can drift from the tables. What a MessagePort would transfer is copied
// into the frame: a transfer list has no meaning across processes. Inside the daemon process the
// worker threads encode and decode payloads themselves (framed-port.ts); the relay between them
// and the sockets only reads the header.
import { deserialize, serialize } from 'node:v8';
import type { Socket } from 'node:net';

const HEADER = 8;
/** Frames up to this size are copied behind their header and written whole (one write, no writev). */
const COPY_MAX = 64 * 1024;
/** Key 0 is the connection's hello: the front's index (the payload is [frontIndex]). */
export const HELLO_KEY = 0;
/**
 * The front's answer to a thread's address question (address-query.ts), payload [key, seq,
 * address]: the relay writes it where the thread waits, as a front of a thread pool would.
 */
export const ADDRESS_KEY = 0xffffffff;

/** Writes framed batches to a socket, counting what the kernel has not taken yet (backpressure). */
export class FrameWriter {
  constructor(private readonly socket: Socket) {}

  /** Sends one batch; false when the socket's buffer is over its high-water mark ('drain' follows). */
  write(key: number, batch: readonly unknown[]): boolean {
    return this.writePayload(key, serialize(batch));
  }

  /** Sends a batch already serialized (by a worker thread: framed-port.ts). */
  writePayload(key: number, payload: Uint8Array): boolean {
    if (payload.byteLength <= COPY_MAX) {
      const frame = Buffer.allocUnsafe(HEADER + payload.byteLength);
      frame.writeUInt32LE(payload.byteLength, 0);
      frame.writeUInt32LE(key, 4);
      frame.set(payload, HEADER);
      return this.socket.write(frame);
    }
    const head = Buffer.allocUnsafeSlow(HEADER);
    head.writeUInt32LE(payload.byteLength, 0);
    head.writeUInt32LE(key, 4);
    this.socket.cork();
    this.socket.write(head);
    const ok = this.socket.write(payload);
    this.socket.uncork();
    return ok;
  }
}

/**
 * Reassembles frames from a socket's chunks and calls `onFrame(key, payload)` for each; the
 * payload is a view into the chunk (decode it with `decodeBatch`, or copy it to keep it).
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly onFrame: (key: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    if (this.pendingBytes < HEADER) return;
    let buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    let at = 0;
    while (buf.byteLength - at >= HEADER) {
      const len = buf.readUInt32LE(at);
      if (buf.byteLength - at - HEADER < len) break;
      const key = buf.readUInt32LE(at + 4);
      const payload = buf.subarray(at + HEADER, at + HEADER + len);
      at += HEADER + len;
      this.onFrame(key, payload);
    }
    buf = at === buf.byteLength ? Buffer.alloc(0) : buf.subarray(at);
    this.pending = buf.byteLength > 0 ? [buf] : [];
    this.pendingBytes = buf.byteLength;
  }
}

/** A frame's batch. */
export function decodeBatch(payload: Uint8Array): unknown[] {
  return deserialize(payload) as unknown[];
}
