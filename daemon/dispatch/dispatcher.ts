// One pool's dispatcher on one front thread: hands each request to the least-loaded ready worker
// over this front's link to it, or queues it (bounded, with a wait limit), and re-dispatches what a
// dying worker never started. Workers are shared by every front: their state and load live on
// their boards (shared memory), so `threads` and `concurrency` hold whatever front a request
// came through. Worker lifecycle is the control thread's (daemon/pool): it attaches and detaches
// workers here; timeouts are in timeouts.ts.
import { WORKER_READY } from '../../shared/protocol/board.js';
import type { Logger } from '../../shared/log.js';
import { errorText } from '../../shared/errors.js';
import type { ResolvedPool } from '../../shared/config/types.js';
import { WaitQueue } from './queue.js';
import { sweep } from './timeouts.js';
import type { DispatchStats, Exchange, PoolReporter, WorkerAttach } from './types.js';
import { WorkerLink, type LinkOwner } from './worker-link.js';
import type { StickySessions } from './ws-sticky.js';
import type { WsPoolHub } from './ws-types.js';

const SWEEP_MS = 100;

export class Dispatcher implements LinkOwner {
  readonly links: WorkerLink[] = [];
  readonly queue = new WaitQueue<Exchange>();
  /** Requests waiting over all fronts (Int32 0 of a pool-wide SharedArrayBuffer). */
  private readonly queuedAll: Int32Array;
  private queuedMine = 0;
  private requests = 0;
  /** Set once the app has asked for a client address: from then on every request carries one. */
  private wantsAddress = false;
  /** The app did not load: the mount answers 503 until a roll brings workers that load. */
  loadError = '';
  private closing = false;
  private closeWaiter: (() => void) | null = null;
  private readonly sweeper: NodeJS.Timeout;
  /** The pool's WebSockets on this front (set by native-front/ws when the pool opens). */
  ws: WsPoolHub | null = null;
  /** Session affinity (daemon/dispatch/ws-sticky.ts; set with `ws`). */
  sticky: StickySessions | null = null;
  readonly expire = (ex: Exchange): void => ex.fail(503, 'waited too long in the daemon pool queue');

  constructor(
    readonly cfg: ResolvedPool,
    queued: SharedArrayBuffer,
    readonly log: Logger,
    readonly report: PoolReporter,
  ) {
    this.queuedAll = new Int32Array(queued, 0, 1);
    this.sweeper = setInterval(() => sweep(this, performance.now()), SWEEP_MS);
    this.sweeper.unref();
  }

  // ---------------------------------------------------------------- workers

  attach(a: WorkerAttach): void {
    this.links.push(new WorkerLink(a, this));
    this.pump();
  }

  /**
   * The worker is gone (died, killed, or retired and drained). Requests its app had started
   * cannot be replayed: clean 502. The rest go back to the front of the queue.
   */
  detach(key: number, front: number, reason: string): void {
    const i = this.links.findIndex((l) => l.key === key);
    if (i < 0) return;
    const link = this.links[i];
    this.links.splice(i, 1);
    // Its WebSockets close (1011 or 1012, by `reason`) and its sessions are forgotten.
    this.ws?.detached(link, reason);
    this.sticky?.forget(link);
    const startedUpTo = link.board.started(front);
    const requeue: Exchange[] = [];
    for (const ex of link.close()) {
      if (ex.finished) continue;
      if (ex.id <= startedUpTo || ex.bodySent) ex.fail(502, `daemon worker ${reason} while handling the request`);
      else requeue.push(ex);
    }
    for (let k = requeue.length - 1; k >= 0; k--) this.queue.unshift(requeue[k]);
    this.syncQueued();
    this.pump();
  }

  // ---------------------------------------------------------------- requests

  /** Hands a request to a worker, queues it, or fails it (503). */
  submit(ex: Exchange): void {
    if (this.closing) return ex.fail(503, 'the daemon pool is shutting down');
    if (this.loadError) return ex.fail(503, 'the app failed to load');
    // A request of a session a worker holds goes to that worker (ws-sticky.ts).
    if (this.sticky !== null && this.sticky.size > 0) {
      const pinned = this.sticky.pinned(ex);
      if (pinned !== null) return this.assign(ex, pinned);
    }
    if (this.queue.isEmpty()) {
      const link = this.pick();
      if (link !== null) return this.assign(ex, link);
    }
    this.queue.purge(performance.now(), this.cfg.queueTimeoutMs, this.expire);
    if (Atomics.load(this.queuedAll, 0) - this.queuedMine + this.queue.length >= this.cfg.queueSize) {
      this.syncQueued();
      return ex.fail(503, 'the daemon pool queue is full');
    }
    this.queue.push(ex);
    this.syncQueued();
  }

  /** The least-loaded ready worker with a free slot, its slot claimed; null when none has room. */
  private pick(): WorkerLink | null {
    const limit = this.cfg.concurrency;
    for (let attempt = 0; attempt < 2; attempt++) {
      let best: WorkerLink | null = null;
      let bestLoad = limit;
      for (let i = 0; i < this.links.length; i++) {
        const l = this.links[i];
        if (l.pingSentAt !== 0) continue;
        const b = l.board;
        if (b.state !== WORKER_READY) continue;
        const load = b.inflight;
        // Ties go to the worker holding fewer WebSockets, so long-lived sockets spread over the pool.
        if (load < bestLoad || (load === bestLoad && best !== null && b.sockets < best.board.sockets)) {
          best = l;
          bestLoad = load;
        }
      }
      if (best === null) return null;
      if (best.board.claim(limit)) return best;
      // Another front took the last slot between our read and the claim: look again.
    }
    return null;
  }

  private assign(ex: Exchange, link: WorkerLink): void {
    this.requests++;
    link.send(ex, this.wantsAddress ? ex.remoteAddress : ex.knownRemoteAddress);
    if (this.sticky !== null && this.sticky.query !== null) this.sticky.assigned(ex, link);
    const served = link.board.served();
    if (link.limit > 0 && served === link.limit && !link.retireAsked) {
      link.retireAsked = true;
      this.report.retire(link.key);
    }
    ex.dispatched();
  }

  /** Moves queued requests to workers with room; fails the ones that waited too long. */
  pump(): void {
    if (this.queue.isEmpty()) {
      if (this.closeWaiter !== null) this.checkClosed();
      else if (Atomics.load(this.queuedAll, 0) > 0 && this.queuedMine === 0 && this.hasRoom()) this.report.pumpOthers();
      return;
    }
    const now = performance.now();
    for (;;) {
      this.queue.purge(now, this.cfg.queueTimeoutMs, this.expire);
      if (this.queue.isEmpty()) break;
      const link = this.pick();
      if (link === null) break;
      this.assign(this.queue.take()!, link);
    }
    this.syncQueued();
    if (this.closeWaiter !== null) this.checkClosed();
  }

  private hasRoom(): boolean {
    for (const l of this.links) if (l.board.state === WORKER_READY && l.board.inflight < this.cfg.concurrency) return true;
    return false;
  }

  /** Keeps the pool-wide count of waiting requests in step with this front's queue. */
  syncQueued(): void {
    const n = this.queue.length;
    if (n !== this.queuedMine) {
      Atomics.add(this.queuedAll, 0, n - this.queuedMine);
      this.queuedMine = n;
    }
  }

  /** Nothing can serve for now (workers keep failing to load): queued requests get 503 at once. */
  failQueue(status: number, reason: string): void {
    for (const ex of this.queue.drain()) if (!ex.finished) ex.fail(status, reason);
    this.syncQueued();
  }

  // ---------------------------------------------------------------- front → worker

  linkDrained(key: number): void {
    this.report.drained(key);
  }

  wantAddresses(): void {
    this.wantsAddress = true;
  }

  unknownMessage(tag: number): void {
    this.log.error('daemon worker sent an unknown message', { tag });
  }

  badFrame(link: WorkerLink, err: unknown): void {
    this.terminate(link, 'a daemon process thread sent a malformed frame: terminating it', { error: errorText(err) });
  }

  /** Has control terminate `link`'s worker, once, saying why; its requests in flight get 502 when it is detached. */
  terminate(link: WorkerLink, why: string, fields: Record<string, unknown> = {}): void {
    if (link.killAsked) return;
    link.killAsked = true;
    this.log.error(why, { worker: link.key, ...fields });
    this.report.kill(link.key);
  }

  /** The client went away (or the front answered it itself, e.g. 413): tell the worker, free the slot. */
  abort(ex: Exchange): void {
    const link = ex.ticket as unknown as WorkerLink | null;
    if (link === null) return; // queued: the queue skips finished exchanges
    if (link.release(ex.id) !== undefined && !link.gone) {
      link.out.abort(ex.id);
      this.pump();
    }
  }

  sendBody(ex: Exchange, chunk: ArrayBuffer): void {
    const link = ex.ticket as unknown as WorkerLink | null;
    if (link === null || link.gone) return;
    link.out.reqBody(ex.id, chunk);
    link.out.transfer(chunk);
  }

  sendEnd(ex: Exchange): void {
    const link = ex.ticket as unknown as WorkerLink | null;
    if (link !== null && !link.gone) link.out.reqEnd(ex.id);
  }

  credit(ex: Exchange, bytes: number): void {
    const link = ex.ticket as unknown as WorkerLink | null;
    if (link !== null && !link.gone) link.out.resCredit(ex.id, bytes);
  }

  // ---------------------------------------------------------------- operations

  stats(): DispatchStats {
    let inFlight = 0;
    const busyWorkers: number[] = [];
    for (const l of this.links) {
      inFlight += l.inflight.size;
      if (l.inflight.size > 0) busyWorkers.push(l.key);
    }
    return { queued: this.queue.countWaiting(), inFlight, busyWorkers, requests: this.requests };
  }

  /** Requests of this front still queued or in flight. */
  private busy(): boolean {
    if (!this.queue.isEmpty()) return true;
    for (const l of this.links) for (const ex of l.inflight.values()) if (!ex.finished) return true;
    return false;
  }

  private checkClosed(): void {
    if (!this.busy()) this.closeWaiter?.();
  }

  /**
   * Stops taking requests and lets queued and in-flight ones finish, up to `deadlineMs`; then
   * fails what is left (503) and resolves. The pool retires its workers after every front's
   * dispatcher has closed.
   */
  close(deadlineMs: number): Promise<void> {
    this.closing = true;
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.closeWaiter = null;
        this.failQueue(503, 'the daemon pool is shutting down');
        for (const l of this.links)
          for (const ex of l.inflight.values()) if (!ex.finished) ex.fail(503, 'the daemon pool shut down before the response completed');
        clearInterval(this.sweeper);
        resolve();
      };
      const timer = setTimeout(finish, deadlineMs);
      this.closeWaiter = finish;
      this.pump();
    });
  }

  /** The pool is gone: drop every link (their workers are terminated). */
  dispose(): void {
    clearInterval(this.sweeper);
    for (const l of this.links.splice(0)) {
      this.ws?.detached(l, 'closing');
      l.close();
    }
    this.failQueue(503, 'the daemon pool is gone');
  }
}
