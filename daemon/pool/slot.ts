// One worker thread as the pool sees it: its port and outbox, the requests it has in flight, and
// where it is in its life.
import type { MessagePort } from 'node:worker_threads';
import { ADDRESS_BUFFER_BYTES } from '../../shared/address-query.js';
import { IdTable } from '../../shared/id-table.js';
import { Outbox } from '../../shared/protocol.js';
import type { Exchange, RestartReason } from './types.js';

export type SlotState = 'starting' | 'ready' | 'retiring' | 'dead';

export class WorkerSlot {
  readonly out: Outbox;
  readonly inflight = new IdTable<Exchange>();
  state: SlotState = 'starting';
  threadId = -1;
  /** Shared with the worker: the id of the last request it handed to the app. */
  readonly startedBuf = new SharedArrayBuffer(8);
  private readonly started = new Float64Array(this.startedBuf);
  /** Shared with the worker: where the front answers its client-address questions. */
  readonly addressBuf = new SharedArrayBuffer(ADDRESS_BUFFER_BYTES);
  served = 0;
  /** Requests after which this worker is recycled (maxRequests + jitter); 0 = never. */
  readonly limit: number;
  /** Idle tracking for the reaper, updated by the sweep (no per-request clock reads). */
  servedAtSweep = 0;
  idleSince = performance.now();
  retireStarted = 0;
  /** performance.now() when an unanswered PING went out; 0 when none is outstanding. */
  pingSentAt = 0;
  pingSeq = 0;
  /** Set when the pool itself ends the thread: the exit is expected, counted under this reason. */
  killedFor: RestartReason | 'retired' | 'closing' | null = null;
  ready: Promise<string>; // resolves with the load error ("" when the app loaded)
  resolveReady!: (loadError: string) => void;

  constructor(
    readonly port: MessagePort,
    readonly seq: number,
    limit: number,
  ) {
    this.out = new Outbox(port);
    this.limit = limit;
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
  }

  /** The worker has finished with request `id` (its response ended or failed): forget it, no more credits. */
  release(id: number): Exchange | undefined {
    const ex = this.inflight.get(id);
    if (ex !== undefined) {
      this.inflight.delete(id);
      ex.slot = null;
    }
    return ex;
  }

  /** Every request with id <= this has been handed to the app. */
  get startedUpTo(): number {
    return this.started[0];
  }

  /** Can take another request right now. */
  accepts(concurrency: number): boolean {
    return this.state === 'ready' && this.pingSentAt === 0 && this.inflight.size < concurrency;
  }
}
