// Ending one piscina thread of a daemon process, and noticing when it does not end.
//
// Worker.terminate() interrupts JavaScript, not a thread blocked in a synchronous native call
// (execSync, openSync of a FIFO with no writer, a native addon's long call): such a thread runs on
// in the process, holding its memory, and the process can no longer exit by itself (process.exit
// joins its threads). The process's main thread keeps this clock rather than hostd because it alone
// sees the thread exit (the Worker's terminate() promise settles on its 'exit'): hostd would need
// an acknowledgement for every terminate of every thread to learn the same, to act on the rare
// thread that never exits; this way only that one costs a message (`stuck`). The main thread runs
// no app code, so its timer fires even while a thread is stuck.
import type { Worker } from 'node:worker_threads';
import { THREAD_STOP_GRACE_MS } from '../../shared/protocol/process-ipc.js';

/** Terminates `worker`; `stuck()` runs if it has not exited after THREAD_STOP_GRACE_MS. */
export function stopThread(worker: Worker, stuck: () => void): void {
  const timer = setTimeout(stuck, THREAD_STOP_GRACE_MS);
  timer.unref(); // an exiting process has no one left to tell
  const exited = () => clearTimeout(timer);
  worker.terminate().then(exited, exited);
}
