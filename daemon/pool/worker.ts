// One daemon worker thread as the control thread sees it: its control port, its board, where it
// is in its life, and why it ended when the pool ended it.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { ADDRESS_BUFFER_BYTES } from '../../shared/protocol/address-query.js';
import { Board, boardBytes, WORKER_DEAD, WORKER_READY, WORKER_RETIRING, WORKER_STARTING } from '../../shared/protocol/board.js';
import { WorkerControlOutbox } from '../../shared/protocol/index.js';
import type { WorkerAttach } from '../dispatch/types.js';

export type RestartReason = 'maxRequests' | 'timeout' | 'memory' | 'oom' | 'exit' | 'error' | 'roll';
/**
 * Why the pool ended a worker itself (its exit is then expected). `replaced`: its daemon process
 * is being replaced (a thread of it could not be stopped) while it was still loading.
 */
export type KillReason = RestartReason | 'retired' | 'closing' | 'loadFailed' | 'replaced';

export class PoolWorker {
  readonly board: Board;
  readonly out: WorkerControlOutbox;
  readonly controlPort: MessagePort;
  /** The worker's ends of its channels, handed over in the serve task. */
  readonly workerControl: MessagePort;
  readonly workerLinks: MessagePort[] = [];
  /** The fronts' ends, attached to each front once. */
  readonly frontAttach: WorkerAttach[] = [];
  threadId = -1;
  retireStarted = 0;
  /** Served count at the last sweep, and since when it has not moved (idle reaping). */
  servedAtSweep = 0;
  idleSince = performance.now();
  killedFor: KillReason | null = null;
  /** Aborts the worker's serve task: piscina then ends its thread, loading or serving (WorkerSet.kill). */
  readonly abort = new AbortController();
  /** Fronts that have every answer of this retiring worker (it is terminated once all have). */
  readonly drainedFronts = new Set<number>();
  readonly ready: Promise<string>; // resolves with the load error ("" when the app loaded)
  resolveReady!: (loadError: string) => void;
  /** Resolves when the thread is gone. */
  readonly gone: Promise<void>;
  private resolveGone!: () => void;

  constructor(
    readonly key: number,
    fronts: number,
    /** Requests after which this worker is recycled (maxRequests + jitter); 0 = never. */
    readonly limit: number,
    /** A thread of a daemon process: fronts reach it over its process's socket, not a port. */
    remote = false,
  ) {
    this.board = new Board(new SharedArrayBuffer(boardBytes(fronts)));
    const control = new MessageChannel();
    this.controlPort = control.port1;
    this.workerControl = control.port2;
    this.out = new WorkerControlOutbox(control.port1);
    for (let f = 0; f < fronts; f++) {
      const data = remote ? null : new MessageChannel();
      if (data) this.workerLinks.push(data.port2);
      // Across a process nothing proves which requests the app started: all count as started (502).
      else this.board.setStarted(f, Number.MAX_SAFE_INTEGER);
      this.frontAttach.push({
        key,
        port: data ? data.port1 : null,
        board: this.board.buffer,
        address: new SharedArrayBuffer(ADDRESS_BUFFER_BYTES),
        limit,
      });
    }
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    this.gone = new Promise((resolve) => (this.resolveGone = resolve));
  }

  get state(): 'starting' | 'ready' | 'retiring' | 'dead' {
    switch (this.board.state) {
      case WORKER_STARTING:
        return 'starting';
      case WORKER_READY:
        return 'ready';
      case WORKER_RETIRING:
        return 'retiring';
      default:
        return 'dead';
    }
  }

  markReady(): void {
    this.board.state = WORKER_READY;
  }

  markRetiring(): void {
    this.board.state = WORKER_RETIRING;
    this.retireStarted = performance.now();
  }

  markDead(): void {
    this.board.state = WORKER_DEAD;
    this.out.close();
    this.controlPort.close();
    this.resolveGone();
  }
}
