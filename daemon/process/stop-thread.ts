// Ending a worker thread, and noticing when it does not end.
//
// Worker.terminate() interrupts JavaScript, not a thread blocked in a synchronous native call
// (execSync, openSync of a FIFO with no writer, a native addon's long call): such a thread runs on,
// holding its memory, and its process can no longer exit by itself (process.exit joins its
// threads). A daemon process replaces itself then (it reports `stuck`: process-group.ts); a thread
// pool's thread is hostd's own, so all hostd can do is say so (worker-set.ts).
//
// In a daemon process, its main thread keeps this clock rather than hostd because it alone sees
// the thread exit (the Worker's terminate() promise settles on its 'exit'): hostd would need an
// acknowledgement for every terminate of every thread to learn the same, to act on the rare thread
// that never exits; this way only that one costs a message. The main thread runs no app code, so
// its timer fires even while a thread is stuck.
import type { Worker } from 'node:worker_threads';

/**
 * How long a terminated thread may take to exit before it counts as stuck. Worker.terminate()
 * stops JavaScript within milliseconds, and a finite synchronous native call (a sync zlib or
 * crypto call on a big buffer, a read from a slow disk) within about a second; 5 s is well past
 * both, yet short next to what a stuck thread costs (its memory and CPU for good). A false alarm
 * costs a graceful process replacement, no request.
 */
export const THREAD_STOP_GRACE_MS = 5000;

/** Runs `stuck()` unless `exited` settles within THREAD_STOP_GRACE_MS. */
export function unlessExited(exited: Promise<unknown>, stuck: () => void): void {
  const timer = setTimeout(stuck, THREAD_STOP_GRACE_MS);
  timer.unref(); // an exiting process has no one left to tell
  const done = () => clearTimeout(timer);
  exited.then(done, done);
}

/** Terminates `worker`; `stuck()` runs if it has not exited after THREAD_STOP_GRACE_MS. */
export function stopThread(worker: Worker, stuck: () => void): void {
  unlessExited(worker.terminate(), stuck);
}
