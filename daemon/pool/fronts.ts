// What a pool needs from the fronts (implemented on the control thread by native-front/control):
// every front runs a dispatcher for every pool, and the pool tells them about its workers.
import type { WorkerAttach } from '../dispatch/types.js';

export interface PoolFronts {
  /** How many fronts there are (each worker gets one data port per front). */
  readonly count: number;
  /** Hands front `front` its data port to a new worker (the port is transferred). */
  attach(pool: number, front: number, worker: WorkerAttach): void;
  /** A worker became ready: fronts with queued requests send them now. */
  workerReady(pool: number): void;
  /** The worker is gone: every front fails or re-dispatches what it had sent it. */
  detach(pool: number, key: number, reason: string): void;
  /** Whether the app loads: "" (serving) or why not (the mount answers 503). */
  loadState(pool: number, loadError: string): void;
  /** No worker can serve for now: queued requests get 503 at once. */
  unavailable(pool: number): void;
  /** Every front stops dispatching to the pool and finishes what it has (up to the deadline). */
  closeDispatchers(pool: number, deadlineMs: number): Promise<void>;
}
