// A worker's serving state shared by all its data ports: the app, the order in which requests
// reach it, retirement, and the reports the pool reads from the board.
//
// The batch rule: requests arrive in batches (one postMessage per front per tick), and a
// response leaves with the next flush of its port. Started all at once, ten CPU-bound requests
// of a batch would all compute before the first answer left. So the server hands requests to the
// app until the current turn has used BUDGET_MS, then defers the rest to a later macrotask,
// flushing every port in between: a response leaves about one handler-time after its request
// started, and a fast app (thousands of requests a second) still runs whole batches at once.
import v8 from 'node:v8';
import type { Board } from '../../shared/protocol/board.js';
import { LOG_ERROR, type ControlOutbox } from '../../shared/protocol/index.js';
import { errorText } from '../../shared/errors.js';
import type { ResolvedCompression } from '../../shared/config/types.js';
import type { FetchHandler } from '../app/types.js';
import type { NodeListener } from '../app/node-adapter.js';
import type { FrontLink } from './link.js';
import type { WorkerRequest } from './request.js';
import type { WorkerWs } from './ws/worker-ws.js';

const BUDGET_MS = 2;
/** How often the worker writes its memory use to the board (the pool checks it as often). */
const MEMORY_SAMPLE_MS = 100;

const noop = () => {};

export class WorkerServer {
  links: FrontLink[] = [];
  /** The worker's WebSockets (daemon/worker/ws); set by the entry once the app has loaded. */
  ws: WorkerWs | null = null;
  /** A node-style app's (req, res) listener: its requests take the direct path (node-exchange.ts). */
  node: NodeListener | null = null;
  private deferred: WorkerRequest[] = [];
  private deferredHead = 0;
  private turnStart = 0;
  private overBudget = false;
  private scheduled = false;
  private readonly waits = new Set<Promise<unknown>>();
  private retiring = false;
  private drainedSent = false;
  /** Request heads received over all ports (see maybeDrained). */
  private received = 0;
  private readonly runDeferredBound = () => this.runDeferred();

  constructor(
    readonly fetch: FetchHandler,
    readonly env: Record<string, string>,
    readonly mount: string,
    readonly stripPrefix: boolean,
    /** How app responses are compressed; null: not at all. */
    readonly compression: ResolvedCompression | null,
    private readonly control: ControlOutbox,
    private readonly board: Board,
  ) {
    const sample = () => {
      const h = v8.getHeapStatistics();
      board.memory = h.used_heap_size + h.external_memory;
    };
    sample();
    setInterval(sample, MEMORY_SAMPLE_MS).unref();
  }

  log(level: number, text: string, requestId = ''): void {
    this.control.log(level, text, requestId);
  }

  /** ctx.waitUntil: keeps the worker from retiring before the promise settles. */
  readonly waitUntil = (p: Promise<unknown>): void => {
    const tracked = Promise.resolve(p).then(noop, (err) => this.log(LOG_ERROR, `waitUntil promise rejected: ${errorText(err)}`));
    this.waits.add(tracked);
    void tracked.finally(() => {
      this.waits.delete(tracked);
      this.maybeDrained();
    });
  };

  /** A batch arrived on some port: its requests get a fresh budget. */
  batchStarted(): void {
    this.turnStart = performance.now();
    this.overBudget = false;
  }

  /** A request's head arrived: start it now, or after the ones already waiting. */
  admit(r: WorkerRequest): void {
    this.received++;
    // Retired and drained, about to be terminated: a request a front sent in the meantime is not
    // started (the watermark stays below it), so that front sends it to another worker.
    if (this.drainedSent) return;
    if (this.overBudget || this.deferredHead < this.deferred.length) {
      this.deferred.push(r);
      this.scheduleDeferred();
      return;
    }
    r.link.start(r);
    if (performance.now() - this.turnStart > BUDGET_MS) this.overBudget = true;
  }

  private scheduleDeferred(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.runDeferredBound);
    }
  }

  private runDeferred(): void {
    this.scheduled = false;
    // Responses finished since the last turn leave before the next request computes.
    for (const l of this.links) l.out.flush();
    this.batchStarted();
    const q = this.deferred;
    while (this.deferredHead < q.length) {
      const r = q[this.deferredHead++];
      r.link.start(r);
      if (performance.now() - this.turnStart > BUDGET_MS) break;
    }
    if (this.deferredHead < q.length) this.scheduleDeferred();
    else {
      this.deferred = [];
      this.deferredHead = 0;
      this.overBudget = false;
    }
    this.maybeDrained();
  }

  /** The control thread asked this worker to finish and stop. */
  retire(): void {
    this.retiring = true;
    this.maybeDrained();
  }

  requestFinished(): void {
    if (this.retiring) this.maybeDrained();
  }

  /** Sent before retire: what happens to this worker's open WebSockets (worker-ws.ts). */
  wsRetire(code: number, afterMs: number): void {
    this.ws?.retire(code, afterMs);
  }

  private maybeDrained(): void {
    if (!this.retiring || this.drainedSent || this.waits.size > 0 || this.deferredHead < this.deferred.length) return;
    // The retire order travels on the control port, requests on the data ports: requests the
    // fronts handed over before they saw this worker retiring may still be on their way.
    if (this.received < this.board.servedCount) return;
    for (const l of this.links) if (l.size > 0) return;
    if (this.ws !== null && this.ws.size > 0) return; // open WebSockets: drained once they close
    this.drainedSent = true;
    for (const l of this.links) {
      l.out.drained();
      l.out.flush();
    }
  }
}
