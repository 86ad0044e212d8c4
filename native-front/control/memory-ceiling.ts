// --max-memory: a ceiling on the whole process's resident memory. memoryLimitMb bounds one worker;
// many workers each under their limit, or pools without one, can still take the machine, and
// then the kernel's OOM killer ends hostd whole: every vhost, every pool. Over the ceiling, hostd
// replaces the largest worker of the pool using the most memory instead, one at a time, and
// watches whether that helped before it replaces another.
//
// Why one at a time, and the brakes: a replaced worker's memory leaves RSS only once its thread
// has ended and the allocator has handed the pages back (see docs/operations.md on
// MALLOC_MMAP_THRESHOLD_), and a replacement starts at once. So after each replacement the
// ceiling waits for the thread to end, and SETTLE_MS more, before it looks again. Then it judges
// the replacement by the memory outside the workers (RSS less what every live worker reports):
// had the replaced worker's memory stayed in the process, that figure grows by what the worker
// held. RSS alone would mislead, since the other workers may be leaking meanwhile. If the memory
// did stay (the front's cache, the allocator keeping freed pages, a native leak), further
// replacements would be a restart storm for nothing: it stops, says so once, and starts again
// only after RSS went back under.
import type { DaemonPool } from '../../daemon/pool/pool.js';
import type { PoolWorker } from '../../daemon/pool/worker.js';
import { mountLabel, type Logger } from '../../shared/log.js';

const SAMPLE_MS = 500;
const SETTLE_MS = 1000;
/** A thread that has not ended by then is judged as if it had (terminate() is normally prompt). */
const END_WAIT_MS = 10_000;
/** A worker holding less than this is not the problem (a fresh one holds ~10 MB). */
const MIN_WORKER_BYTES = 32 * 1024 * 1024;
const MB = 1024 * 1024;

let lastRss = 0;
/**
 * The process's resident set size in bytes. Reading it opens /proc/self/stat: out of descriptors
 * that fails (EMFILE), and the last figure read stands in.
 */
export function residentBytes(): number {
  try {
    lastRss = process.memoryUsage.rss();
  } catch {
    // keep the last figure
  }
  return lastRss;
}

export interface MemoryCeilingReport {
  /** The ceiling in bytes (0: none). */
  maxBytes: number;
  /** Workers replaced because the process was over the ceiling. */
  sheds: number;
  /** Times the ceiling stopped shedding because it did not help. */
  gaveUp: number;
}

export class MemoryCeiling {
  private timer: NodeJS.Timeout | null = null;
  private sheds = 0;
  private gaveUp = 0;
  /** The last replacement, until RSS is back under the ceiling. */
  private last: { outsideBefore: number; workerBytes: number; at: number; endedAt: number | null } | null = null;
  private stalled = false;
  private warnedSmall = false;

  constructor(
    readonly maxBytes: number,
    /** Every pool that may hold workers (live and retiring). */
    private readonly pools: () => Iterable<DaemonPool>,
    private readonly log: Logger,
    /** The process's resident set size in bytes. */
    private readonly rss: () => number = residentBytes,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.sample(performance.now()), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  report(): MemoryCeilingReport {
    return { maxBytes: this.maxBytes, sheds: this.sheds, gaveUp: this.gaveUp };
  }

  /** One look at RSS; replaces at most one worker. Public for tests. */
  sample(now: number): void {
    const rss = this.rss();
    if (rss <= this.maxBytes) {
      if (this.last || this.stalled)
        this.log.info('memory back under --max-memory', { rssMb: Math.round(rss / MB), maxMb: Math.round(this.maxBytes / MB) });
      this.last = null;
      this.stalled = false;
      this.warnedSmall = false;
      return;
    }
    if (this.stalled) return;
    if (this.last) {
      const { at, endedAt, outsideBefore, workerBytes } = this.last;
      const settledSince = endedAt ?? (now - at > END_WAIT_MS ? at : null);
      if (settledSince === null || now - settledSince < SETTLE_MS) return;
      const outside = rss - this.workerBytes();
      if (outside - outsideBefore > (workerBytes * 3) / 4) {
        this.stalled = true;
        this.gaveUp++;
        this.log.error(
          'replacing workers does not bring memory under --max-memory (it is not in the workers); not replacing more until it is under',
          {
            rssMb: Math.round(rss / MB),
            maxMb: Math.round(this.maxBytes / MB),
            outsideWorkersMb: Math.round(outside / MB),
          },
        );
        return;
      }
    }
    const pick = this.largest();
    if (pick === null || pick.worker.board.memory < MIN_WORKER_BYTES) {
      if (!this.warnedSmall) {
        this.warnedSmall = true;
        this.log.warn('over --max-memory, but no worker holds enough memory to be worth replacing', {
          rssMb: Math.round(rss / MB),
          maxMb: Math.round(this.maxBytes / MB),
          largestWorkerMb: pick ? Math.round(pick.worker.board.memory / MB) : 0,
        });
      }
      return;
    }
    const { pool, worker, poolBytes } = pick;
    const workerBytes = worker.board.memory;
    this.sheds++;
    pool.restarts.memory++;
    this.log.error('hostd over --max-memory: replacing the largest worker of the pool using the most memory', {
      rssMb: Math.round(rss / MB),
      maxMb: Math.round(this.maxBytes / MB),
      mount: mountLabel(pool.cfg.url),
      poolMb: Math.round(poolBytes / MB),
      workerMb: Math.round(workerBytes / MB),
      thread: worker.threadId,
    });
    const last = { outsideBefore: rss - this.workerBytes(), workerBytes, at: now, endedAt: null as number | null };
    this.last = last;
    void pool.kill(worker, 'memory').then(() => {
      last.endedAt = performance.now();
    });
  }

  /** What every live worker of every pool reports holding (heap + external). */
  private workerBytes(): number {
    let sum = 0;
    for (const pool of this.pools()) for (const w of pool.workers) if (w.state !== 'dead') sum += w.board.memory;
    return sum;
  }

  /** The pool whose workers hold the most memory, and its largest worker. */
  private largest(): { pool: DaemonPool; worker: PoolWorker; poolBytes: number } | null {
    let best: { pool: DaemonPool; worker: PoolWorker; poolBytes: number } | null = null;
    for (const pool of this.pools()) {
      let sum = 0;
      let top: PoolWorker | null = null;
      for (const w of pool.workers) {
        if (w.state === 'dead') continue;
        sum += w.board.memory;
        if (top === null || w.board.memory > top.board.memory) top = w;
      }
      if (top !== null && (best === null || sum > best.poolBytes)) best = { pool, worker: top, poolBytes: sum };
    }
    return best;
  }
}
