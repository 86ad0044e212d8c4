// The pool's clock on the control thread, run every 100 ms: workers over memoryLimitMb (heap
// and off-heap, as each worker writes it to its board) are replaced, retiring workers that do
// not drain in time are terminated, and idle workers above minThreads are reaped.
import type { DaemonPool } from './pool.js';
import type { PoolWorker } from './worker.js';
import { fullSize, minSize } from './size.js';

export function sweepPool(pool: DaemonPool, now: number): void {
  const cfg = pool.cfg.pool;
  const limitBytes = cfg.memoryLimitMb ? cfg.memoryLimitMb * 1024 * 1024 : 0;
  const retireDeadline = (cfg.requestTimeoutMs > 0 ? cfg.requestTimeoutMs : 60_000) + 5000;
  let readyIdle: PoolWorker[] | null = null;
  let readyCount = 0;
  for (const w of [...pool.workers]) {
    if (limitBytes > 0 && w.board.memory > limitBytes && w.state !== 'dead') {
      // V8's heap limit (resourceLimits) never sees Buffers and ArrayBuffers: this does.
      pool.restarts.memory++;
      pool.log.error('daemon worker over memoryLimitMb (heap + external memory): replacing it', {
        thread: w.threadId,
        memoryMb: Math.round(w.board.memory / 1048576),
        limitMb: cfg.memoryLimitMb,
      });
      pool.kill(w, 'memory');
      continue;
    }
    // A retiring worker with open WebSockets closes them itself at the graceful timeout (1001).
    const deadline = w.board.sockets > 0 ? Math.max(retireDeadline, pool.gracefulMs + 5000) : retireDeadline;
    if (w.state === 'retiring' && now - w.retireStarted > deadline) {
      pool.log.warn('daemon worker did not drain in time: terminating it', { thread: w.threadId });
      pool.kill(w, 'retired');
      continue;
    }
    if (w.state === 'ready') {
      readyCount++;
      const served = w.board.servedCount;
      if (w.board.inflight > 0 || w.board.sockets > 0 || served !== w.servedAtSweep) {
        w.servedAtSweep = served;
        w.idleSince = now;
      } else if (cfg.idleTimeoutMs > 0 && now - w.idleSince > cfg.idleTimeoutMs) {
        (readyIdle ??= []).push(w);
      }
    }
  }
  if (readyIdle !== null && !pool.closing) {
    for (const w of readyIdle) {
      if (readyCount <= minSize(cfg)) break;
      readyCount--;
      pool.target = Math.max(minSize(cfg), pool.target - 1);
      pool.retire(w, null);
    }
  }
  // Demand after an idle reap: grow back towards `threads` when requests wait.
  if (pool.target < fullSize(cfg) && Atomics.load(new Int32Array(pool.queued, 0, 1), 0) > 0) {
    pool.target++;
    pool.ensureWorkers();
  }
}
