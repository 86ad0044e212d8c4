// The daemon pool of one app mount (the WSGIDaemonProcess analogue): worker threads that load
// the user's module, a dispatcher that hands each request to the least-loaded worker over that
// worker's long-lived MessagePort, a bounded queue, timeouts, recycling and fault handling.
//
// Division of labour with piscina: piscina spawns the threads (resourceLimits for the heap cap,
// env, the worker file), reports their death (exit, uncaught error, ERR_WORKER_OUT_OF_MEMORY)
// and tears everything down on destroy(). Requests never go through piscina.run(): each worker
// gets exactly one never-ending `serve` task carrying its MessagePort, and requests flow over
// that port in per-tick batches (measured 0.83x raw uWS, against 0.36x for run() per request).
// Piscina has no notion of "terminate this one busy worker" or "retire this worker after N
// requests", so for those the pool calls terminate() on the specific worker_threads Worker
// (found by threadId in piscina.threads); piscina then sees the exit, rejects that worker's serve
// task and forgets the worker. One task per worker also means a replacement is always a fresh
// isolate: piscina never reuses a thread for us.
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ResolvedApp } from '../../shared/config/types.js';
import { HostdError } from '../../shared/errors.js';
import { answerAddress } from '../../shared/address-query.js';
import * as P from '../../shared/protocol.js';
import { compileApp, needsCompile } from '../app/compile.js';
import { WaitQueue } from './queue.js';
import { WorkerSlot } from './slot.js';
import type { Exchange, PoolStats, RestartReason } from './types.js';
import { workerEnv, workerFilename } from './worker-file.js';

export interface PoolLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface PoolOptions {
  /** Where loadApp puts compiled TypeScript/JSX. */
  cacheDir?: string;
}

/**
 * How long a worker has to answer a PING after one of its requests timed out: a quarter of the
 * request timeout, within [250 ms, 1 s]. Short enough that requests queued behind a stuck worker
 * are re-dispatched before their own deadline.
 */
function stuckGraceMs(requestTimeoutMs: number): number {
  return Math.min(1000, Math.max(250, requestTimeoutMs / 4));
}
const SWEEP_MS = 100;
const MAX_RESPAWN_BACKOFF_MS = 30_000;

function errText(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}

function classify(err: unknown): RestartReason {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_WORKER_OUT_OF_MEMORY') return 'oom';
  if (err instanceof Error && /worker exited with code/i.test(err.message)) return 'exit';
  return 'error';
}

export class DaemonPool {
  private piscina!: Piscina;
  private readonly slots: WorkerSlot[] = [];
  private slotSeq = 0;
  private readonly queue = new WaitQueue<Exchange>();
  private readonly expire = (ex: Exchange): void => ex.fail(503, 'waited too long in the daemon pool queue');
  private nextId = 0;
  private requests = 0;
  private readonly restarts: Record<RestartReason, number> = { maxRequests: 0, timeout: 0, oom: 0, exit: 0, error: 0, roll: 0 };
  /** Workers we want serving: threads, minus idle-reaped ones (never below minThreads). */
  private target: number;
  private sweeper: NodeJS.Timeout | null = null;
  private respawnTimer: NodeJS.Timeout | null = null;
  private spawnFailures = 0;
  private starting = true;
  private closing = false;
  private closed: Promise<void> | null = null;
  /** Set when the app does not load: the mount answers 503. */
  loadError = '';
  /** TypeScript/JSX compiled once here for every worker (see compile()). */
  private entry: string | undefined;
  private readonly mountLabel: string;
  /** Set once the app has asked for a client address: from then on every request carries one. */
  private wantsAddress = false;

  constructor(
    readonly cfg: ResolvedApp,
    private readonly log: PoolLogger,
    private readonly opts: PoolOptions = {},
  ) {
    this.mountLabel = cfg.url || '/';
    this.target = Math.max(1, cfg.pool.threads);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts the workers; resolves with the app's load error ("" when it loaded). */
  async start(): Promise<string> {
    const pool = this.cfg.pool;
    this.piscina = new Piscina({
      filename: await workerFilename(),
      // Threads exist only for our serve tasks; room for a full roll (new set + old set draining).
      minThreads: 0,
      maxThreads: this.target * 3 + 2,
      concurrentTasksPerWorker: 1,
      idleTimeout: 1000,
      atomics: 'disabled',
      env: workerEnv(pool),
      resourceLimits: pool.memoryLimitMb ? { maxOldGenerationSizeMb: pool.memoryLimitMb } : undefined,
    });
    this.piscina.on('error', (err: unknown) => this.log.error('daemon pool error', { mount: this.mountLabel, error: errText(err) }));
    this.entry = await this.compile();
    const first: WorkerSlot[] = [];
    for (let i = 0; i < this.target; i++) first.push(this.spawn());
    const errors = await Promise.all(first.map((s) => s.ready));
    this.starting = false;
    const err = errors.find((e) => e !== '') ?? '';
    if (err) {
      this.loadError = err;
      for (const s of [...this.slots]) this.kill(s, 'closing');
    } else {
      this.spawnFailures = 0;
    }
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
    return err;
  }

  /**
   * TypeScript/JSX is compiled once per start/roll in this thread (esbuild, off the event loop)
   * rather than once per worker. If it fails, workers compile themselves and report the error
   * in loadApp's words.
   */
  private async compile(): Promise<string | undefined> {
    if (!needsCompile(this.cfg.module)) return undefined;
    try {
      return this.opts.cacheDir ? await compileApp(this.cfg.module, this.opts.cacheDir) : await compileApp(this.cfg.module);
    } catch {
      return undefined;
    }
  }

  private spawn(): WorkerSlot {
    const pool = this.cfg.pool;
    const limit = pool.maxRequests > 0 ? pool.maxRequests + Math.floor(Math.random() * (pool.maxRequestsJitter + 1)) : 0;
    const { port1, port2 } = new MessageChannel();
    const slot = new WorkerSlot(port1, ++this.slotSeq, limit);
    port1.on('message', (batch: unknown[]) => this.onBatch(slot, batch));
    port1.unref(); // an idle pool must not keep the process alive; the listener does that
    this.slots.push(slot);
    const task: P.ServeTask = {
      kind: 'serve',
      port: port2,
      modulePath: this.cfg.module,
      interface: this.cfg.interface,
      mount: this.cfg.url,
      env: pool.env,
      cacheDir: this.opts.cacheDir,
      entry: this.entry,
      started: slot.startedBuf,
      address: slot.addressBuf,
    };
    this.piscina.run(task, { transferList: [port2] as never }).then(
      () => this.slotDied(slot, new Error('the worker serve task returned')),
      (err: unknown) => this.slotDied(slot, err),
    );
    return slot;
  }

  /** Ends one specific thread (busy or not). piscina notices the exit and drops the worker. */
  private kill(slot: WorkerSlot, why: NonNullable<WorkerSlot['killedFor']>): void {
    if (slot.state === 'dead') return;
    if (slot.killedFor === null) slot.killedFor = why;
    if (slot.threadId >= 0) {
      for (const w of this.piscina.threads) {
        if (w.threadId === slot.threadId) {
          void w.terminate();
          break;
        }
      }
    }
    this.slotDied(slot, null);
  }

  private slotDied(slot: WorkerSlot, err: unknown): void {
    if (slot.state === 'dead') return;
    const wasStarting = slot.state === 'starting';
    slot.state = 'dead';
    slot.out.close();
    slot.port.close();
    const idx = this.slots.indexOf(slot);
    if (idx >= 0) this.slots.splice(idx, 1);

    let reason: RestartReason | null = null;
    if (slot.killedFor === null) {
      reason = classify(err);
      this.restarts[reason]++;
      this.log.error(`daemon worker died (${reason})`, { mount: this.mountLabel, thread: slot.threadId, error: errText(err) });
    } else if (slot.killedFor === 'timeout') {
      reason = 'timeout';
    }
    if (wasStarting) slot.resolveReady(`the worker exited while loading the app: ${errText(err ?? 'terminated')}`);

    // Requests the app had started cannot be replayed: clean 502. The rest go back to the queue.
    const orphans = slot.inflight.values();
    slot.inflight.clear();
    const requeue: Exchange[] = [];
    for (const ex of orphans) {
      ex.slot = null;
      if (ex.finished) continue;
      if (ex.id <= slot.startedUpTo || ex.bodySent) ex.fail(502, `daemon worker ${reason ?? 'stopped'} while handling the request`);
      else requeue.push(ex);
    }
    for (let i = requeue.length - 1; i >= 0; i--) this.queue.unshift(requeue[i]);
    if (!this.closing) {
      this.ensureWorkers();
      this.pump();
    } else {
      this.pump();
    }
  }

  /** Keeps `target` workers starting or serving; backs off when new workers fail to load. */
  private ensureWorkers(): void {
    if (this.closing || this.loadError || this.starting || this.respawnTimer !== null) return;
    let live = 0;
    for (const s of this.slots) if (s.state === 'starting' || s.state === 'ready') live++;
    if (live >= this.target) return;
    if (this.spawnFailures > 0) {
      const delay = Math.min(MAX_RESPAWN_BACKOFF_MS, 250 * 2 ** (this.spawnFailures - 1));
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = null;
        this.ensureWorkers();
      }, delay);
      this.respawnTimer.unref();
      // Nothing can serve for now: do not let queued requests wait for a worker that may never come.
      if (!this.slots.some((s) => s.state === 'ready' || s.state === 'retiring' || s.state === 'starting')) this.failQueue(503, 'no daemon worker available');
      return;
    }
    for (; live < this.target; live++) this.spawn();
  }

  // ---------------------------------------------------------------- dispatch

  /** Hands a request to a worker, queues it, or fails it (503). */
  submit(ex: Exchange): void {
    if (this.closing) {
      ex.fail(503, 'the daemon pool is shutting down');
      return;
    }
    if (this.loadError) {
      ex.fail(503, 'the app failed to load');
      return;
    }
    if (this.queue.isEmpty()) {
      const slot = this.pick();
      if (slot !== null) {
        this.assign(ex, slot);
        return;
      }
    }
    this.purgeQueue(performance.now());
    if (this.queue.length >= this.cfg.pool.queueSize) {
      ex.fail(503, 'the daemon pool queue is full');
      return;
    }
    this.queue.push(ex);
    // Demand after an idle reap: grow back towards `threads`.
    if (this.target < this.cfg.pool.threads) {
      this.target++;
      this.ensureWorkers();
    }
  }

  private pick(): WorkerSlot | null {
    const c = this.cfg.pool.concurrency;
    let best: WorkerSlot | null = null;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i];
      if (s.accepts(c) && (best === null || s.inflight.size < best.inflight.size)) best = s;
    }
    return best;
  }

  private assign(ex: Exchange, slot: WorkerSlot): void {
    const id = ++this.nextId;
    ex.id = id;
    ex.slot = slot;
    slot.inflight.set(id, ex);
    slot.served++;
    this.requests++;
    const address = this.wantsAddress ? ex.remoteAddress : ex.knownRemoteAddress;
    slot.out.push8(P.REQ_HEAD, id, ex.method, ex.url, ex.headers, address, ex.requestId, ex.hasBody);
    if (slot.limit > 0 && slot.served >= slot.limit) this.retire(slot, 'maxRequests');
    ex.dispatched();
  }

  /** Moves queued requests to workers with room; fails the ones that waited too long. */
  private pump(): void {
    if (this.queue.isEmpty()) return;
    const now = performance.now();
    for (;;) {
      this.purgeQueue(now);
      if (this.queue.isEmpty()) return;
      const slot = this.pick();
      if (slot === null) return;
      this.assign(this.queue.take()!, slot);
    }
  }

  private purgeQueue(now: number): void {
    this.queue.purge(now, this.cfg.pool.queueTimeoutMs, this.expire);
  }

  private failQueue(status: number, reason: string): void {
    for (const ex of this.queue.drain()) if (!ex.finished) ex.fail(status, reason);
  }

  // ---------------------------------------------------------------- front -> worker

  sendBody(ex: Exchange, chunk: ArrayBuffer): void {
    const slot = ex.slot;
    if (slot === null || slot.state === 'dead') return;
    slot.out.push3(P.REQ_BODY, ex.id, chunk);
    slot.out.transferOwned(chunk);
  }

  sendEnd(ex: Exchange): void {
    const slot = ex.slot;
    if (slot !== null && slot.state !== 'dead') slot.out.push2(P.REQ_END, ex.id);
  }

  credit(ex: Exchange, bytes: number): void {
    const slot = ex.slot;
    if (slot !== null && slot.state !== 'dead') slot.out.push3(P.RES_CREDIT, ex.id, bytes);
  }

  /** The client went away (or the front answered it itself, e.g. 413): tell the worker, free the slot. */
  abort(ex: Exchange): void {
    const slot = ex.slot;
    if (slot === null) return; // queued: the queue skips finished exchanges
    ex.slot = null;
    if (slot.inflight.delete(ex.id) && slot.state !== 'dead') {
      slot.out.push2(P.ABORT, ex.id);
      this.pump();
    }
  }

  // ---------------------------------------------------------------- worker -> front

  private onBatch(slot: WorkerSlot, batch: unknown[]): void {
    if (slot.state === 'dead') return;
    const inflight = slot.inflight;
    const n = batch.length;
    let i = 0;
    while (i < n) {
      const tag = batch[i] as number;
      switch (tag) {
        case P.RES_FULL: {
          slot.release(batch[i + 1] as number)?.resFull(batch[i + 2] as number, batch[i + 3] as string[], batch[i + 4] as string | Uint8Array | null);
          // uWS has copied or sent the bytes by now: the buffer goes back to the worker for reuse.
          const body = batch[i + 4];
          if (body instanceof Uint8Array && body.byteLength >= P.TRANSFER_MIN) {
            const ab = body.buffer as ArrayBuffer;
            slot.out.push2(P.BUF_RETURN, ab);
            slot.out.transferOwned(ab);
          }
          break;
        }
        case P.RES_HEAD: {
          const ex = inflight.get(batch[i + 1] as number);
          if (ex !== undefined) ex.resHead(batch[i + 2] as number, batch[i + 3] as string[]);
          break;
        }
        case P.RES_BODY: {
          const ex = inflight.get(batch[i + 1] as number);
          if (ex !== undefined) ex.resBody(batch[i + 2] as Uint8Array);
          break;
        }
        case P.RES_END: {
          slot.release(batch[i + 1] as number)?.resEnd();
          break;
        }
        case P.RES_ERROR: {
          slot.release(batch[i + 1] as number)?.resError(batch[i + 2] as number, batch[i + 3] as string);
          break;
        }
        case P.REQ_CREDIT: {
          const ex = inflight.get(batch[i + 1] as number);
          if (ex !== undefined) ex.uploadCredit(batch[i + 2] as number);
          break;
        }
        case P.ADDR_QUERY: {
          this.wantsAddress = true;
          const ex = inflight.get(batch[i + 1] as number);
          answerAddress(slot.addressBuf, batch[i + 2] as number, ex !== undefined ? ex.remoteAddress : '');
          break;
        }
        case P.PONG:
          if (batch[i + 1] === slot.pingSeq) slot.pingSentAt = 0;
          break;
        case P.LOG: {
          const level = batch[i + 1] as number;
          const rid = batch[i + 3] as string;
          // (threadId is -1 until READY: lines printed while the app loads carry no thread)
          const fields = { mount: this.mountLabel, thread: slot.threadId >= 0 ? slot.threadId : undefined, requestId: rid || undefined };
          const text = batch[i + 2] as string;
          if (level === P.LOG_ERROR) this.log.error(text, fields);
          else if (level === P.LOG_WARN) this.log.warn(text, fields);
          else this.log.info(text, fields);
          break;
        }
        case P.READY:
          this.onReady(slot, batch[i + 1] as number, batch[i + 2] as string);
          break;
        case P.DRAINED:
          this.kill(slot, 'retired');
          return;
        default:
          this.log.error('daemon worker sent an unknown message', { mount: this.mountLabel, tag });
          return;
      }
      i += 1 + P.FIELDS[tag];
    }
    this.pump();
  }

  private onReady(slot: WorkerSlot, threadId: number, loadError: string): void {
    slot.threadId = threadId;
    if (loadError) {
      slot.resolveReady(loadError);
      if (!this.starting) {
        this.spawnFailures++;
        this.log.error('app failed to load in a new daemon worker', { mount: this.mountLabel, module: this.cfg.module, error: loadError });
      }
      this.kill(slot, 'retired');
      return;
    }
    if (slot.state === 'starting') slot.state = 'ready';
    this.spawnFailures = 0;
    slot.resolveReady('');
    this.pump();
  }

  // ---------------------------------------------------------------- timeouts, recycling

  private retire(slot: WorkerSlot, reason: 'maxRequests' | 'roll' | null): void {
    if (slot.state !== 'ready') return;
    slot.state = 'retiring';
    slot.retireStarted = performance.now();
    if (reason !== null) this.restarts[reason]++;
    slot.out.push1(P.RETIRE);
    if (reason === 'maxRequests') this.ensureWorkers();
  }

  private timeout(ex: Exchange, now: number): void {
    const slot = ex.slot;
    if (slot !== null) {
      ex.slot = null;
      slot.inflight.delete(ex.id);
      if (slot.state !== 'dead') {
        slot.out.push2(P.ABORT, ex.id);
        // Is its event loop alive? A busy loop will not answer, and gets terminated.
        if (slot.pingSentAt === 0) {
          slot.pingSentAt = now;
          slot.out.push2(P.PING, ++slot.pingSeq);
        }
      }
    }
    ex.fail(504, `request timed out after ${this.cfg.pool.requestTimeoutMs} ms`);
  }

  private sweep(): void {
    const now = performance.now();
    const rt = this.cfg.pool.requestTimeoutMs;
    if (rt > 0) {
      // Scan what is live rather than keeping a timeline of every request: in-flight is bounded
      // by threads x concurrency and the queue by queueSize, so this stays cheap at any rate.
      for (const slot of this.slots) {
        if (slot.inflight.size === 0) continue;
        for (const ex of slot.inflight.values()) {
          if (now - ex.arrival < rt) continue;
          // A finished one still attached is a response the front completed while the app kept
          // streaming (more than its Content-Length): just stop the app.
          if (ex.finished) this.abort(ex);
          else this.timeout(ex, now);
        }
      }
      this.queue.forEach((ex) => {
        if (!ex.finished && now - ex.arrival >= rt) this.timeout(ex, now);
      });
    }
    this.purgeQueue(now);

    const retireDeadline = (rt > 0 ? rt : 60_000) + 5000;
    let readyIdle: WorkerSlot[] | null = null;
    let readyCount = 0;
    for (const s of [...this.slots]) {
      if (s.pingSentAt !== 0 && now - s.pingSentAt > stuckGraceMs(rt)) {
        this.restarts.timeout++;
        this.log.error('daemon worker unresponsive after a request timeout: terminating it', { mount: this.mountLabel, thread: s.threadId });
        this.kill(s, 'timeout');
        continue;
      }
      if (s.state === 'retiring' && now - s.retireStarted > retireDeadline) {
        this.log.warn('daemon worker did not drain in time: terminating it', { mount: this.mountLabel, thread: s.threadId });
        this.kill(s, 'retired');
        continue;
      }
      if (s.state === 'ready') {
        readyCount++;
        if (s.inflight.size > 0 || s.served !== s.servedAtSweep) {
          s.servedAtSweep = s.served;
          s.idleSince = now;
        } else if (this.cfg.pool.idleTimeoutMs > 0 && now - s.idleSince > this.cfg.pool.idleTimeoutMs) {
          (readyIdle ??= []).push(s);
        }
      }
    }
    if (readyIdle !== null && !this.closing) {
      for (const s of readyIdle) {
        if (readyCount <= this.cfg.pool.minThreads) break;
        readyCount--;
        this.target = Math.max(this.cfg.pool.minThreads, this.target - 1);
        this.retire(s, null);
      }
    }
  }

  // ---------------------------------------------------------------- operations

  stats(): PoolStats {
    let busy = 0;
    let inFlight = 0;
    for (const s of this.slots) {
      inFlight += s.inflight.size;
      if (s.inflight.size > 0) busy++;
    }
    return {
      threads: this.slots.length,
      busy,
      idle: this.slots.length - busy,
      queued: this.queue.countWaiting(),
      inFlight,
      requests: this.requests,
      restarts: { ...this.restarts },
    };
  }

  /** Fresh workers first, then the old ones retire gracefully: nothing is dropped. */
  async roll(): Promise<void> {
    if (this.closing) return;
    const previousEntry = this.entry;
    this.entry = await this.compile(); // code changes are picked up here
    const old = this.slots.filter((s) => s.state === 'ready' || s.state === 'starting');
    const fresh: WorkerSlot[] = [];
    const n = Math.max(1, this.loadError ? this.cfg.pool.threads : this.target);
    for (let i = 0; i < n; i++) fresh.push(this.spawn());
    const errors = await Promise.all(fresh.map((s) => s.ready));
    const err = errors.find((e) => e !== '');
    if (err) {
      this.entry = previousEntry; // replacements of the surviving workers keep loading the old build
      for (const s of fresh) this.kill(s, 'retired');
      this.log.error('roll: the app does not load in fresh workers; keeping the current ones', { mount: this.mountLabel, error: err });
      throw new HostdError('HOSTD_APP_LOAD', `app ${this.cfg.module} failed to load: ${err.split('\n')[0]}`);
    }
    this.loadError = '';
    this.spawnFailures = 0;
    this.target = n;
    for (const s of old) {
      if (s.state === 'ready') this.retire(s, 'roll');
      else if (s.state === 'starting') {
        this.restarts.roll++;
        this.kill(s, 'roll');
      }
    }
    this.pump();
  }

  /** Stop taking requests, let queued and in-flight ones finish (up to the deadline), stop workers. */
  close(deadlineMs = 30_000): Promise<void> {
    if (this.closed === null) this.closed = this.doClose(deadlineMs);
    return this.closed;
  }

  private async doClose(deadlineMs: number): Promise<void> {
    this.closing = true;
    const deadline = performance.now() + deadlineMs;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const busy = () => {
      if (!this.queue.isEmpty()) return true;
      for (const s of this.slots) for (const ex of s.inflight.values()) if (!ex.finished) return true;
      return false;
    };
    while (busy() && performance.now() < deadline) {
      this.pump();
      await sleep(20);
    }
    this.failQueue(503, 'the daemon pool is shutting down');
    for (const s of [...this.slots]) {
      for (const ex of s.inflight.values()) {
        if (!ex.finished) ex.fail(503, 'the daemon pool shut down before the response completed');
      }
      s.inflight.clear();
      if (s.state === 'ready') this.retire(s, null);
    }
    // Give waitUntil work a moment to finish (DRAINED), within the deadline.
    while (this.slots.some((s) => s.state === 'retiring') && performance.now() < deadline) await sleep(20);
    for (const s of [...this.slots]) this.kill(s, 'closing');
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    // (piscina is unset when close() comes before start() got that far)
    if (this.piscina) await this.piscina.destroy();
  }
}
