// What the control thread and a daemon process say to each other over the child's IPC channel
// (child_process 'advanced' serialization). Worker control batches (TO_WORKER_CONTROL /
// TO_CONTROL) travel inside `ctl` unchanged, the pool's socket.io messages inside `sio` (both
// ways: daemon/process/socketio-bridge.ts); the rest is the process's own lifecycle.
import type { ResolvedCompression } from '../config/types.js';
import type { AppInterface, CheckResult, CheckTask } from './tasks.js';

/** The daemon process's start: everything its threads' serve tasks share. */
export interface ProcessInit {
  t: 'init';
  /** Where this process takes the fronts' address answers (a 0700 folder of its own user). */
  socket: string;
  fronts: number;
  /** The worker thread file (daemon/worker/entry.ts built). */
  workerFile: string;
  /** hostd's pid: what the guard protects when the process runs under hostd's own uid. */
  hostPid: number;
  sameUser: boolean;
  umask: number;
  modulePath: string;
  interface: AppInterface;
  mount: string;
  stripPrefix: boolean;
  compression: ResolvedCompression | null;
  env: Record<string, string>;
  cacheDir?: string;
  entry?: string;
  /** The app's working directory (pool.cwd: the app root by default). */
  cwd: string;
  /** The pool's name for its workers across rolls (daemon/app/socketio). */
  group: string;
  /** Room for a full roll of the process's threads. */
  maxThreads: number;
}

/** `hostd check` of a process pool: load the app once in a thread of a process as the pool's user. */
export interface ProcessCheck {
  t: 'check';
  workerFile: string;
  env: Record<string, string>;
  umask: number;
  task: CheckTask;
}

export type ToProcess =
  | ProcessInit
  | ProcessCheck
  /** Start a worker thread for pool worker `key`, listening for the fronts at `socket`. */
  | { t: 'thread'; key: number; socket: string }
  /** A control batch for thread `key`; `served`: requests the fronts handed it so far (retire). */
  | { t: 'ctl'; key: number; batch: unknown[]; served?: number }
  /** End thread `key` now (request timeout, retired and drained, roll). */
  | { t: 'terminate'; key: number }
  /**
   * For the pool's socket.io channel (`batch`: v8.serialize of PoolMessage[], daemon/app/socketio/channel.ts):
   * what the threads of another daemon process of the same pool posted there, or hostd's notice
   * that a worker of the pool has ended. The process's main thread posts them, in order, for its threads.
   */
  | { t: 'sio'; batch: Uint8Array }
  /** Whether the pool has other live daemon processes: only then does the process send hostd its `sio`. */
  | { t: 'sioPeers'; peers: boolean };

export type FromProcess =
  /** The answer to ProcessCheck; the process exits after it. */
  | { t: 'checked'; result: CheckResult }
  /** The socket is listening: fronts may connect. */
  | { t: 'listening' }
  | { t: 'ctl'; key: number; batch: unknown[] }
  /** Thread `key` ended by itself (uncaught error, exit, out of memory). */
  | { t: 'died'; key: number; error: string; code?: string }
  /**
   * Thread `key` (piscina's `threadId`), told to `terminate`, has not exited after
   * THREAD_STOP_GRACE_MS (daemon/process/stop-thread.ts, which says why the process, not hostd,
   * keeps this clock): it is blocked in native code and will run on in this process, so hostd
   * replaces the process (process-group.ts). Sent once per thread.
   */
  | { t: 'stuck'; key: number; threadId: number }
  /** Every STATS_MS: the process's RSS, and per thread [key, memory] (the fronts count open WebSockets themselves). */
  | { t: 'stats'; rss: number; threads: Array<[number, number]> }
  /**
   * What the process's threads posted on the pool's socket.io channel in one turn of its event
   * loop (v8.serialize of PoolMessage[]): hostd relays the bytes unopened to the pool's other live
   * daemon processes, and to no other pool's.
   */
  | { t: 'sio'; batch: Uint8Array }
  /** Once per process: a socket.io message could not be serialized (its threads got it, the other processes not). */
  | { t: 'sioDropped'; error: string };

/** How often a daemon process reports its memory and sockets (the board cannot cross processes). */
export const STATS_MS = 100;
