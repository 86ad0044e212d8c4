// The live worker threads of one daemon pool, control-thread side: starting one (spawn), what
// its ready report means, ending one on purpose (kill) or noticing it died, keeping `target` of
// them with a backoff when new ones fail to load, and retiring one gracefully. The sweep
// (sweep.ts), the fronts (through native-front/control) and the pool's lifecycle (pool.ts:
// start, roll, close) all act through these. DaemonPool extends this class: it is separate so the
// lifecycle and the supervision each read as one thing, with no delegation between them.
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Piscina } from 'piscina';
import type { ResolvedApp } from '../../shared/config/types.js';
import { errorText } from '../../shared/errors.js';
import { mountLabel, withFields, type Logger } from '../../shared/log.js';
import { CLOSE_GOING_AWAY, CLOSE_SERVICE_RESTART } from '../../shared/protocol/ws.js';
import { announceGone } from '../app/socketio/channel.js';
import { unlessExited } from '../process/stop-thread.js';
import type { ProcessGroup } from './process-group.js';
import { listenToWorker } from './control-port.js';
import type { PoolFronts } from './fronts.js';
import { serveTask } from './serve-task.js';
import { fullSize } from './size.js';
import { PoolWorker, type KillReason, type RestartReason } from './worker.js';

const MAX_RESPAWN_BACKOFF_MS = 30_000;

export interface PoolOptions {
  /** Where loadApp puts compiled TypeScript/JSX. */
  cacheDir?: string;
  /** --graceful-timeout: how long a rolled worker's WebSockets may stay open (then 1001). */
  gracefulMs?: number;
}

function classify(err: unknown): RestartReason {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_WORKER_OUT_OF_MEMORY') return 'oom';
  if (err instanceof Error && /worker exited with code/i.test(err.message)) return 'exit';
  return 'error';
}

export class WorkerSet {
  /** Created by the pool's start (pool.ts); unset until then. */
  protected piscina: Piscina | undefined;
  /** pool.isolation: process: the daemon processes the threads run in (set by the pool's start). */
  protected daemons: ProcessGroup | undefined;
  readonly workers: PoolWorker[] = [];
  private nextKey = 0;
  readonly restarts: Record<RestartReason, number> = { maxRequests: 0, timeout: 0, memory: 0, oom: 0, exit: 0, error: 0, roll: 0 };
  /** Workers we want serving: threads (× processes), minus idle-reaped ones (never below minThreads). */
  target: number;
  protected respawnTimer: NodeJS.Timeout | null = null;
  protected spawnFailures = 0;
  /** The first load is under way (its failures are the start's, not the supervision's). */
  protected starting = true;
  closing = false;
  /** Set when the app does not load: the mount answers 503. */
  loadError = '';
  /** TypeScript/JSX compiled once by the pool for every worker (pool.ts compile()). */
  protected entry: string | undefined;
  readonly log: Logger;
  /** Unique to this pool in the process, kept across rolls: its workers' socket.io channel (daemon/app/socketio). */
  readonly group = randomUUID();

  constructor(
    readonly id: number,
    readonly cfg: ResolvedApp,
    protected readonly fronts: PoolFronts,
    log: Logger,
    protected readonly opts: PoolOptions,
  ) {
    this.log = withFields(log, { mount: mountLabel(cfg.url) });
    this.target = Math.max(1, fullSize(cfg.pool));
  }

  /** How long a retiring worker's WebSockets may stay open (sweep.ts waits that long for it). */
  get gracefulMs(): number {
    return this.opts.gracefulMs ?? 30_000;
  }

  /**
   * Starts one worker thread: its control port, its data port to every front, and its serve task
   * on piscina (which never returns while the worker lives: its end is the worker's death).
   */
  protected spawn(): PoolWorker {
    const pool = this.cfg.pool;
    const limit = pool.maxRequests > 0 ? pool.maxRequests + Math.floor(Math.random() * (pool.maxRequestsJitter + 1)) : 0;
    const w = new PoolWorker(++this.nextKey, this.fronts.count, limit, this.daemons !== undefined);
    this.workers.push(w);
    listenToWorker(w, this.log, (threadId, loadError) => this.onReady(w, threadId, loadError));
    if (this.daemons !== undefined) {
      this.daemons.place(w); // the fronts are told where it is once its process listens
      return w;
    }
    for (let f = 0; f < this.fronts.count; f++) this.fronts.attach(this.id, f, w.frontAttach[f]);
    const task = serveTask(w, this.cfg, this.entry, this.opts.cacheDir, this.group);
    this.piscina!.run(task, { transferList: [w.workerControl, ...w.workerLinks] as never, signal: w.abort.signal }).then(
      () => this.died(w, new Error('the worker serve task returned')),
      (err: unknown) => this.died(w, err),
    );
    return w;
  }

  private onReady(w: PoolWorker, threadId: number, loadError: string): void {
    w.threadId = threadId;
    if (loadError) {
      w.resolveReady(loadError);
      if (!this.starting) {
        this.spawnFailures++;
        this.log.error('app failed to load in a new daemon worker', { module: this.cfg.module, error: loadError });
      }
      this.kill(w, 'loadFailed');
      return;
    }
    if (w.state === 'starting') w.markReady();
    this.spawnFailures = 0;
    w.resolveReady('');
    this.fronts.workerReady(this.id);
  }

  /**
   * Ends one specific thread (busy, or still loading the app, or not started yet). Resolves once
   * the thread has ended, when its memory can have left the process.
   *
   * By aborting its serve task, not by its threadId: a worker still loading (a hung import past
   * startTimeout, a failed roll) has not reported its threadId yet, and must end all the same,
   * or it keeps running and counts against piscina's thread limit. piscina terminates the thread
   * that runs an aborted task (or drops the task if no thread has taken it yet).
   */
  kill(w: PoolWorker, why: KillReason): Promise<void> {
    if (w.state === 'dead') return Promise.resolve();
    w.killedFor ??= why;
    let ended: Promise<unknown> = Promise.resolve();
    if (this.daemons !== undefined) this.daemons.terminate(w);
    else if (this.piscina) {
      const before = this.piscina.threads;
      w.abort.abort(); // synchronous: piscina has dropped the thread when this returns
      const now = new Set(this.piscina.threads);
      const gone = before.filter((t) => !now.has(t) && t.threadId !== -1);
      ended = Promise.all(gone.map((t) => once(t, 'exit')));
      // A thread blocked in native code cannot be stopped, and hostd cannot shed it: say so.
      if (gone.length > 0) unlessExited(ended, () => this.logStuck(w));
    }
    this.died(w, null);
    return ended.then(
      () => undefined,
      () => undefined,
    );
  }

  private logStuck(w: PoolWorker): void {
    this.log.error(
      "a daemon worker thread could not be stopped (blocked in native code?): it runs on inside hostd until its call returns, and hostd's exit waits for it; isolation: process replaces such a thread's process",
      { worker: w.key, thread: w.threadId },
    );
  }

  /** Worker `w` is gone (also called by the daemon processes' group for their threads). */
  died(w: PoolWorker, err: unknown): void {
    if (w.state === 'dead') return;
    const wasStarting = w.state === 'starting';
    w.markDead();
    const idx = this.workers.indexOf(w);
    if (idx >= 0) this.workers.splice(idx, 1);
    let reason: string = w.killedFor ?? 'stopped';
    if (w.killedFor === null) {
      const r = classify(err);
      this.restarts[r]++;
      reason = r === 'oom' ? 'ran out of memory' : 'died';
      this.log.error(`daemon worker died (${r})`, { thread: w.threadId, error: errorText(err) });
    } else if (w.killedFor === 'timeout') reason = 'was unresponsive';
    else if (w.killedFor === 'memory') reason = 'went over memoryLimitMb';
    // A worker a roll (or its process's replacement) ended while it was still loading (a SIGHUP right
    // at startup) did not fail to load: the initial start must not read it as an error.
    const replaced = w.killedFor === 'roll' || w.killedFor === 'replaced';
    if (wasStarting) w.resolveReady(replaced ? '' : `the worker exited while loading the app: ${errorText(err ?? 'terminated')}`);
    this.fronts.detach(this.id, w.key, reason);
    // Its socket.io peers stop waiting for it (in a process pool, those of every daemon process).
    if (this.daemons !== undefined) this.daemons.announceGone(String(w.key));
    else announceGone(this.group, String(w.key));
    if (!this.closing) this.ensureWorkers();
  }

  /** Keeps `target` workers starting or serving; backs off when new workers fail to load. */
  ensureWorkers(): void {
    if (this.closing || this.loadError || this.starting || this.respawnTimer !== null) return;
    let live = 0;
    for (const w of this.workers) if (w.state === 'starting' || w.state === 'ready') live++;
    if (live >= this.target) return;
    if (this.spawnFailures > 0) {
      const delay = Math.min(MAX_RESPAWN_BACKOFF_MS, 250 * 2 ** (this.spawnFailures - 1));
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = null;
        this.ensureWorkers();
      }, delay);
      this.respawnTimer.unref();
      // Nothing can serve for now: do not let queued requests wait for a worker that may never come.
      if (this.workers.length === 0) this.fronts.unavailable(this.id);
      return;
    }
    for (; live < this.target; live++) this.spawn();
  }

  /**
   * Lets `workers` go once their successors serve (a roll, pool.ts renew): one serving retires (it
   * finishes what it has, then ends), one still loading ends at once (it holds no request).
   */
  protected replace(workers: readonly PoolWorker[], reason: 'roll' | null): void {
    for (const w of workers) {
      if (w.state === 'ready') this.retire(w, reason);
      else if (w.state === 'starting') {
        if (reason !== null) this.restarts[reason]++;
        this.kill(w, reason ?? 'replaced');
      }
    }
  }

  /** Asks a worker to finish its requests and stop (it answers drained; then it is terminated). */
  retire(w: PoolWorker, reason: 'maxRequests' | 'roll' | null): void {
    if (w.state !== 'ready') return;
    w.markRetiring();
    if (reason !== null) this.restarts[reason]++;
    // Its WebSockets: a recycled worker closes them at once with 1012 (Service Restart); otherwise
    // (a reload, the mount going away) they may finish until --graceful-timeout, then 1001.
    if (reason === 'maxRequests') w.out.wsRetire(CLOSE_SERVICE_RESTART, 0);
    else w.out.wsRetire(CLOSE_GOING_AWAY, this.gracefulMs);
    w.out.retire();
    if (reason === 'maxRequests') this.ensureWorkers();
  }

  // ---------------------------------------------------------------- what the fronts report

  /** A front saw worker `key` reach its request limit. */
  retireKey(key: number): void {
    const w = this.workers.find((x) => x.key === key);
    if (w) this.retire(w, 'maxRequests');
  }

  /** Front `front` has every answer of retired worker `key`; once all have, the thread ends. */
  frontDrained(key: number, front: number): void {
    const w = this.workers.find((x) => x.key === key);
    if (!w) return;
    w.drainedFronts.add(front);
    if (w.drainedFronts.size >= this.fronts.count) this.kill(w, 'retired');
  }

  /** A front found worker `key` stuck (no answer to a ping after a request timed out). */
  killKey(key: number): void {
    const w = this.workers.find((x) => x.key === key);
    if (w && w.state !== 'dead') {
      this.restarts.timeout++;
      this.kill(w, 'timeout');
    }
  }
}
