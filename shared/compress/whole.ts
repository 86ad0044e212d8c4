// Whole-body compression off the front thread: zlib's asynchronous API does the work on
// libuv's threadpool, so a 100 KB body (gzip 6 and brotli 5: 3.5-9 ms each on the 2-core CI box)
// never stalls the event loop that serves everyone else.
//
// Measured with `node --import tsx bench/compress-cost.ts` (100 KB of TypeScript source, CPU
// time and ratio; the box was shared, figures vary by ~2x between runs):
//   gzip 1 2.4 ms 2.85x | gzip 6 3.5 ms 3.34x | gzip 9 6.9 ms 3.34x
//   br 4 2.4 ms 3.22x   | br 5 4.6 ms 3.47x   | br 6 7.4 ms 3.51x | br 9 26 ms 3.55x | br 11 186 ms 3.85x
// hence the defaults gzip 6 and brotli 5 (DEFAULT_COMPRESSION): brotli 11 is 40-60 times the
// time for ~10%, far too slow to run per request.
//
// The threadpool is shared with fs calls (4 threads by default, UV_THREADPOOL_SIZE): each job
// is one threadpool task (chunkSize sized to the input), at most half the pool runs whole-body
// jobs at once (the rest queue here, in JavaScript), so file reads of static misses always
// find a free thread; and callers that may ask for the same output concurrently coalesce
// (static/load.ts, cache entries) so a burst of misses does not queue identical jobs.
import zlib from 'node:zlib';
import type { Coding } from './negotiate.js';

export interface Levels {
  gzip: number;
  br: number;
}

export interface CompressionCounters {
  /** Whole-body jobs run, per coding. */
  gzip: number;
  br: number;
  bytesIn: number;
  bytesOut: number;
  /** Wall time of the jobs (threadpool queueing included), milliseconds. */
  ms: number;
}

const counters: CompressionCounters = { gzip: 0, br: 0, bytesIn: 0, bytesOut: 0, ms: 0 };

/** Totals since the process started (for /metrics and tests). */
export function compressionCounters(): Readonly<CompressionCounters> {
  return { ...counters };
}

const MIN_CHUNK = 16 * 1024;
const MAX_CHUNK = 1024 * 1024;

function chunkSizeFor(n: number): number {
  return Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, n + 64));
}

/** zlib/brotli options for a coding at the given levels. */
export function zlibOptions(coding: Coding, levels: Levels, sizeHint: number): zlib.ZlibOptions | zlib.BrotliOptions {
  if (coding === 'gzip') return { level: levels.gzip, chunkSize: chunkSizeFor(sizeHint) };
  const params: Record<number, number> = {
    [zlib.constants.BROTLI_PARAM_QUALITY]: levels.br,
    [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
  };
  if (sizeHint > 0) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = sizeHint;
  return { chunkSize: chunkSizeFor(sizeHint), params };
}

const POOL = Number(process.env.UV_THREADPOOL_SIZE) || 4;
/** Whole-body jobs allowed on the threadpool at once. */
export const MAX_JOBS = Math.max(1, Math.floor(POOL / 2));
let running = 0;
const queued: (() => void)[] = [];

/**
 * Compresses a whole body on the threadpool. The result owns its memory (never a slice of a
 * shared pool slab), so it can be kept in a cache as it is.
 */
export function compressBody(body: Uint8Array, coding: Coding, levels: Levels): Promise<Buffer> {
  if (running < MAX_JOBS) {
    running++;
    return run(body, coding, levels);
  }
  return new Promise<void>((go) => queued.push(go)).then(() => run(body, coding, levels));
}

/** A job finished: its slot goes to the next queued job, else it is freed. */
function release(): void {
  const next = queued.shift();
  if (next !== undefined) next();
  else running--;
}

function run(body: Uint8Array, coding: Coding, levels: Levels): Promise<Buffer> {
  const t0 = performance.now();
  return new Promise<Buffer>((resolve, reject) => {
    const done = (err: Error | null, out: Buffer) => {
      release();
      if (err) return reject(err);
      counters[coding]++;
      counters.bytesIn += body.length;
      counters.bytesOut += out.length;
      counters.ms += performance.now() - t0;
      // Small results come from Buffer's shared 8 KiB pool: copy so a cached one pins no slab.
      if (out.byteOffset !== 0 || out.buffer.byteLength !== out.length) {
        const own = Buffer.allocUnsafeSlow(out.length);
        out.copy(own);
        out = own;
      }
      resolve(out);
    };
    try {
      if (coding === 'gzip') zlib.gzip(body, zlibOptions('gzip', levels, body.length) as zlib.ZlibOptions, done);
      else zlib.brotliCompress(body, zlibOptions('br', levels, body.length) as zlib.BrotliOptions, done);
    } catch (err) {
      // Bad options throw synchronously (levels are checked by the config schema; a hand-built one may not be).
      release();
      reject(err as Error);
    }
  });
}
