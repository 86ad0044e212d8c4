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
import { HostdError } from '../errors.js';
import { BatchReader, BatchWriter, fieldsByTag, type TagFields } from './frame-codec.js';
import { msg, type Table } from './table.js';

const HEADER = 4;
/**
 * The largest frame a reader accepts: what a peer that lies about a length can make it hold (the
 * peer may be a tenant's process). Writers keep under it: a batch is cut into frames of about
 * FRAME_SPLIT at message boundaries, and a response body over BODY_PIECE goes in pieces
 * (daemon/worker/link.ts), so only a single other message over 64 MiB (a WebSocket message an app
 * sends: far past any maxBackpressure) is refused.
 */
export const MAX_FRAME = 64 * 1024 * 1024;
/** A batch is cut into frames of about this size (at message boundaries). */
const FRAME_SPLIT = 8 * 1024 * 1024;
/** A response body over this crosses a socket in pieces of this size (resBody), not in one resFull. */
export const BODY_PIECE = 16 * 1024 * 1024;
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

  /**
   * Sends one batch, as one frame or, past FRAME_SPLIT, several (the reader decodes each as a
   * batch: the messages keep their order). Backpressure is the protocol's credit windows'
   * (process-socket.ts).
   */
  write(batch: readonly unknown[]): void {
    const w = this.batches;
    let at = 0;
    do {
      w.begin(HEADER);
      at = w.batch(batch, at, FRAME_SPLIT);
      const frame = w.end();
      frame.writeUInt32LE(frame.byteLength - HEADER, 0);
      this.socket.write(frame);
      // The scratch is written again by the next frame: keep it only if the kernel took this one
      // whole, synchronously (nothing queued in the socket still points into it).
      if (this.socket.writableLength > 0 || frame.buffer.byteLength > SCRATCH_KEEP) w.detach();
    } while (at < batch.length);
  }
}

/**
 * The batches of one side of a connection that may not be up (yet, or any more): written at once
 * while it is, kept in order until it is.
 */
export class PendingFrames {
  private writer: FrameWriter | null = null;
  private early: unknown[][] = [];

  get up(): boolean {
    return this.writer !== null;
  }

  /** The connection is up: what waited goes first. */
  attach(writer: FrameWriter): void {
    for (const b of this.early.splice(0)) writer.write(b);
    this.writer = writer;
  }

  /** The connection is gone: what follows waits again (or is dropped by clear()). */
  detach(): void {
    this.writer = null;
  }

  clear(): void {
    this.early = [];
  }

  write(batch: unknown[]): void {
    if (this.writer !== null) this.writer.write(batch);
    else this.early.push(batch);
  }
}

/**
 * Reassembles frames from a socket's chunks. The first frame is the hello: `onHello(front)`; the
 * others go to `onFrame(payload)`, a view into the chunk (BatchReader copies what it keeps).
 * push() throws HOSTD_BAD_FRAME for a frame over MAX_FRAME or one its decoder refuses: the
 * caller cuts the connection (guarded()).
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the next frame needs before it can be read (its header, then header and payload). */
  private need = HEADER;
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
    // A large frame arrives in many chunks: they are joined once it is all there, not per chunk.
    if (this.pendingBytes < this.need) return;
    let buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    let at = 0;
    this.need = HEADER;
    while (buf.byteLength - at >= HEADER) {
      const len = buf.readUInt32LE(at);
      if (len > MAX_FRAME) throw new HostdError('HOSTD_BAD_FRAME', `a frame of ${len} bytes is over the limit of ${MAX_FRAME}`);
      if (buf.byteLength - at - HEADER < len) {
        this.need = HEADER + len;
        break;
      }
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

/**
 * Feeds `socket`'s chunks to `reader`; a bad frame (or a throw while handling one) cuts the
 * connection and is passed to `onError`: what a peer sends must not take down this thread.
 */
export function readFrames(socket: Socket, reader: FrameReader, onError: (err: unknown) => void): void {
  socket.on('data', (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (err) {
      socket.destroy();
      onError(err);
    }
  });
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
