// What piscina hands a worker thread: exactly one task per thread, `serve` (never resolves: the
// worker serves its ports until the pool terminates it) or `check` (load once, report).
import type { MessagePort } from 'node:worker_threads';
import type { ResolvedCompression } from '../config/types.js';

export type AppInterface = 'fetch' | 'node' | 'auto';

export interface ServeTask {
  kind: 'serve';
  /** The control port: lifecycle and log lines (TO_CONTROL / TO_WORKER_CONTROL). */
  control: MessagePort;
  /** One data port per front, indexed by front (TO_WORKER / TO_FRONT); none in a daemon process. */
  links: MessagePort[];
  /** This worker's shared counters (board.ts). */
  board: SharedArrayBuffer;
  /** Per front: where that front answers this worker's client-address questions (address-query.ts). */
  addresses: SharedArrayBuffer[];
  modulePath: string;
  interface: AppInterface;
  /** The mount prefix ("" for the root). */
  mount: string;
  /** Fetch apps see mount-relative URLs (the prefix goes to X-Forwarded-Prefix). */
  stripPrefix: boolean;
  env: Record<string, string>;
  /** The app's working directory (pool.cwd, else its app root): what process.cwd() answers. */
  cwd: string;
  /** How the worker compresses its responses (the mount's `compression`); null: it does not. */
  compression: ResolvedCompression | null;
  cacheDir?: string;
  /** The module compiled once by the pool (TypeScript/JSX); unset: the worker loads modulePath itself. */
  entry?: string;
  /** Names the pool, the same for its old and new workers across a roll (daemon/app/socketio). */
  group: string;
  /** The pool worker key: hostd's name for this worker, unique in the pool for its life (socket.io's member id). */
  key: number;
  /** Set in a daemon process (pool.isolation: process). */
  daemonProcess?: DaemonThread;
}

/** A worker thread of a daemon process. */
export interface DaemonThread {
  /** What the process guard protects there (daemon/worker/guard.ts). */
  hostPid: number;
  sameUser: boolean;
  /** Where the thread listens for the fronts (daemon/process/front-sockets.ts), and how many. */
  socket: string;
  fronts: number;
}

/** `hostd check`: load the module once and report. */
export interface CheckTask {
  kind: 'check';
  modulePath: string;
  interface: AppInterface;
  /** As ServeTask.cwd: the app is checked from where it will run. */
  cwd: string;
  cacheDir?: string;
}

export interface CheckResult {
  ok: boolean;
  error?: string;
  interface?: 'fetch' | 'node';
  /** What the app printed while loading, one entry per console call or stream write. */
  output: string[];
}
