// The frames on the Unix sockets between a front thread and a daemon process (pool.isolation:
// process). Each worker thread of a daemon process listens on a socket of its own, and each front
// keeps one connection to it: the batches of the same tables as thread pools (table.ts), in the
// bytes of frame-codec.ts, with no thread between the front and the app's thread. The process's
// main thread listens too, for the one thing a worker thread cannot take itself: the answer to
// its address question, which it awaits blocked (address-query.ts), so the main thread writes it
// where the thread waits (TO_DESK).
//
// A connection starts with a hello frame (the front's index, u32), then carries frames of
// [u32 payload length][payload]. A frame is one batch.
import type { Socket } from 'node:net';
import { BatchReader, BatchWriter, fieldsByTag, type TagFields } from './frame-codec.js';
import { msg, type Table } from './table.js';

const HEADER = 4;
/** A scratch buffer grown past this by a large batch is let go after it (not kept per connection). */
const SCRATCH_KEEP = 256 * 1024;

/** Front → a daemon process's main thread (its address desk). */
export const TO_DESK = {
  /** The answer to thread `key`'s address question `seq` (address-query.ts). */
  address: msg(1, ['key', 'num'], ['seq', 'num'], ['address', 'str']),
} as const satisfies Table;

/** Writes frames of one table's batches to a socket. */
export class FrameWriter {
  private readonly batches: BatchWriter;

  constructor(
    private readonly socket: Socket,
    fields: TagFields,
  ) {
    this.batches = new BatchWriter(fields);
  }

  /** The connection's first frame: who is calling. */
  hello(front: number): void {
    const frame = Buffer.allocUnsafe(HEADER + 4);
    frame.writeUInt32LE(4, 0);
    frame.writeUInt32LE(front, HEADER);
    this.socket.write(frame);
  }

  /** Sends one batch. Backpressure is the protocol's credit windows' (process-socket.ts). */
  write(batch: readonly unknown[]): void {
    const w = this.batches;
    w.begin(HEADER);
    w.batch(batch);
    const frame = w.end();
    frame.writeUInt32LE(frame.byteLength - HEADER, 0);
    this.socket.write(frame);
    // The scratch is written again by the next batch: keep it only if the kernel took this frame
    // whole, synchronously (nothing queued in the socket still points into it).
    if (this.socket.writableLength > 0 || frame.buffer.byteLength > SCRATCH_KEEP) w.detach();
  }
}

/**
 * Reassembles frames from a socket's chunks. The first frame is the hello: `onHello(front)`; the
 * others go to `onFrame(payload)`, a view into the chunk (BatchReader copies what it keeps).
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private greeted: boolean;

  constructor(
    private readonly onFrame: (payload: Buffer) => void,
    private readonly onHello: ((front: number) => void) | null = null,
  ) {
    this.greeted = onHello === null;
  }

  push(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    if (this.pendingBytes < HEADER) return;
    let buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    let at = 0;
    while (buf.byteLength - at >= HEADER) {
      const len = buf.readUInt32LE(at);
      if (buf.byteLength - at - HEADER < len) break;
      const payload = buf.subarray(at + HEADER, at + HEADER + len);
      at += HEADER + len;
      if (this.greeted) this.onFrame(payload);
      else {
        this.greeted = true;
        this.onHello!(len === 4 ? payload.readUInt32LE(0) : -1);
      }
    }
    buf = at === buf.byteLength ? EMPTY : buf.subarray(at);
    this.pending = buf.byteLength > 0 ? [buf] : [];
    this.pendingBytes = buf.byteLength;
  }
}

const EMPTY = Buffer.alloc(0);

/** A frame reader that hands on decoded batches of `table` (BatchReader). */
export function batchReader(table: Table, onBatch: (batch: unknown[]) => void, onHello?: (front: number) => void): FrameReader {
  const batches = new BatchReader(fieldsByTag(table));
  return new FrameReader((payload) => onBatch(batches.read(payload)), onHello ?? null);
}

/** A frame writer of `table`'s batches on `socket`. */
export function batchWriter(socket: Socket, table: Table): FrameWriter {
  return new FrameWriter(socket, fieldsByTag(table));
}
