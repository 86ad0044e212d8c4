// Compression of a streamed response (chunked app responses, server-sent events): every chunk
// pushed comes back compressed *and flushed* (Z_SYNC_FLUSH / BROTLI_OPERATION_FLUSH), so what
// the app wrote reaches the client at once instead of waiting in the compressor's window for
// more input. The price is a few bytes per flush and a little ratio; an event stream needs it.
//
// The zlib stream is created with that flush mode as its default, so each push is one
// threadpool job (write + flush together) and the work stays off the front thread.
//
// Backpressure: push() resolves with the bytes for that chunk once they are ready; a caller
// that awaits each push before taking the next chunk from the app (or before crediting the
// app) holds at most one chunk in the compressor. Pushes may also overlap: they resolve in
// order, each with its own chunk's bytes.
import zlib from 'node:zlib';
import type { Coding } from './negotiate.js';
import { zlibOptions, type Levels } from './whole.js';

const EMPTY = Buffer.alloc(0);

interface Pending {
  resolve(b: Buffer): void;
  reject(e: Error): void;
}

export class StreamCompressor {
  private readonly z: zlib.Gzip | zlib.BrotliCompress;
  private out: Buffer[] = [];
  private outBytes = 0;
  private readonly pending: Pending[] = [];
  private ended = false;
  private failed: Error | null = null;
  /** Bytes in and out so far. */
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    readonly coding: Coding,
    levels: Levels,
  ) {
    // chunkSize 16 KiB: output buffers of a streamed response are per flush, mostly small.
    if (coding === 'gzip') {
      this.z = zlib.createGzip({ ...(zlibOptions('gzip', levels, 0) as zlib.ZlibOptions), flush: zlib.constants.Z_SYNC_FLUSH });
    } else {
      this.z = zlib.createBrotliCompress({
        ...(zlibOptions('br', levels, 0) as zlib.BrotliOptions),
        flush: zlib.constants.BROTLI_OPERATION_FLUSH,
      });
    }
    this.z.on('data', (b: Buffer) => {
      this.out.push(b);
      this.outBytes += b.length;
    });
    this.z.on('error', (err: Error) => this.fail(err));
  }

  /** Compresses and flushes `chunk`; resolves with the bytes to send (possibly empty). */
  push(chunk: Uint8Array): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.ended) return Promise.reject(new Error('StreamCompressor: push after end'));
    if (chunk.length === 0) return Promise.resolve(EMPTY);
    this.bytesIn += chunk.length;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      // The write callback runs after zlib has pushed this chunk's output ('data' above).
      this.z.write(chunk, (err) => {
        if (err) return; // 'error' rejects everyone
        this.settleOne();
      });
    });
  }

  /** Ends the stream; resolves with the trailing bytes (the gzip trailer, brotli's last block). */
  end(): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.ended) return Promise.reject(new Error('StreamCompressor: end twice'));
    this.ended = true;
    return new Promise<Buffer>((resolve, reject) => {
      this.z.once('end', () => {
        // Everything before this point was handed to earlier pushes.
        resolve(this.take());
      });
      this.pending.push({ resolve: () => {}, reject });
      this.z.end();
    });
  }

  /** Frees the zlib state (the client went away); pending pushes reject. */
  destroy(): void {
    this.fail(new Error('StreamCompressor destroyed'));
    this.z.destroy();
  }

  private take(): Buffer {
    if (this.out.length === 0) return EMPTY;
    const b = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out, this.outBytes);
    this.bytesOut += b.length;
    this.out = [];
    this.outBytes = 0;
    return b;
  }

  private settleOne(): void {
    const p = this.pending.shift();
    if (p !== undefined) p.resolve(this.take());
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    for (const p of this.pending.splice(0)) p.reject(err);
  }
}
