// The daemon pool of one app mount (the WSGIDaemonProcess analogue), control-thread side: it
// keeps `threads` worker threads alive, each loading the user's module, and tells every front
// about them; the fronts' dispatchers (daemon/dispatch) send the requests.
//
// Division of labour with piscina: piscina spawns the threads (resourceLimits for the heap cap,
// env, the worker file), reports their death (exit, uncaught error, ERR_WORKER_OUT_OF_MEMORY)
// and tears everything down on destroy(). Requests never go through piscina.run(): each worker
// gets exactly one never-ending `serve` task carrying its ports, and requests flow over those in
// per-tick batches. For "terminate this one worker" (busy loop, memory, recycling) the pool
// calls terminate() on that worker_threads Worker; piscina sees the exit and forgets it. One task
// per worker also means a replacement is always a fresh isolate.
//
// This file is the pool's lifecycle: start (first load, within startTimeout), roll, close, and
// its stats. The workers themselves (spawn, kill, death, respawn backoff, retire) are supervised
// by WorkerSet (worker-set.ts), which DaemonPool extends; the 100 ms clock is sweep.ts.
import { Piscina } from 'piscina';
import type { ResolvedApp } from '../../shared/config/types.js';
import { errorText, HostdError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { compileApp, needsCompile } from '../app/compile.js';
import { ProcessGroup } from './process-group.js';
import type { PoolFronts } from './fronts.js';
import { fullSize } from './size.js';
import { sweepPool } from './sweep.js';
import type { PoolWorker, RestartReason } from './worker.js';
import { workerEnv, workerFilename } from './worker-file.js';
import { WorkerSet, type PoolOptions } from './worker-set.js';

const SWEEP_MS = 100;

/** The control thread's pool counters (the fronts add queue and in-flight figures). */
export interface PoolStats {
  /** Live workers (starting, serving or retiring). */
  threads: number;
  restarts: Record<RestartReason, number>;
  loadError: string;
  /** Memory of each live worker (heap + external), bytes. */
  memory: number[];
}

export class DaemonPool extends WorkerSet {
  /** Requests queued over all fronts (Int32 0), shared with every front's dispatcher. */
  readonly queued = new SharedArrayBuffer(4);
  /** WebSockets open on the pool over all fronts (Int32 0): maxConnections (native-front/ws). */
  readonly sockets = new SharedArrayBuffer(4);
  private sweeper: NodeJS.Timeout | null = null;
  /** The first start (start()); a roll waits for it. */
  private loading: Promise<string> | undefined;
  private closing$: Promise<void> | null = null;
  /** Resolves once the pool has closed (its threads are gone). */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(id: number, cfg: ResolvedApp, fronts: PoolFronts, log: Logger, opts: PoolOptions = {}) {
    super(id, cfg, fronts, log, opts);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts the workers; resolves with the app's load error ("" when it loaded). An app whose
   * load does not finish within startTimeout counts as failed to load: a hung import costs its
   * own mount, never the host.
   */
  start(): Promise<string> {
    this.loading ??= this.doStart();
    return this.loading;
  }

  /** Settles once the first load has finished (or failed): "" or the load error. */
  ready(): Promise<string> {
    return this.loading ?? Promise.resolve('');
  }

  private async doStart(): Promise<string> {
    const pool = this.cfg.pool;
    this.tellCwd();
    if (pool.isolation === 'process') {
      // Threads in daemon processes of the pool's own (daemon/process); piscina runs inside them.
      this.daemons = new ProcessGroup(this, this.fronts, this.opts.cacheDir);
      this.entry = await this.compile();
      await this.daemons.prepare(this.entry, false);
      return this.startWorkers();
    }
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
    this.piscina.on('error', (err: unknown) => this.log.error('daemon pool error', { error: errorText(err) }));
    this.entry = await this.compile();
    return this.startWorkers();
  }

  private async startWorkers(): Promise<string> {
    // Scaled to zero (minThreads: 0): no worker until the first request (the sweep grows the
    // pool when requests wait, as after an idle reap). Loading every such site's app at start
    // only to reap it a second later cost each site ~1 MB for good (measured: 50 sites, malloc
    // arenas the short-lived workers left fragmented) and a startup peak of a worker per site.
    // `hostd check` still loads every app.
    if (this.cfg.pool.minThreads === 0) this.target = 0;
    const first: PoolWorker[] = [];
    for (let i = 0; i < this.target; i++) first.push(this.spawn());
    const err = await this.loaded(first);
    this.starting = false;
    if (err) {
      this.loadError = err;
      for (const w of [...this.workers]) this.kill(w, 'loadFailed');
    } else this.spawnFailures = 0;
    this.fronts.loadState(this.id, this.loadError);
    this.sweeper = setInterval(() => sweepPool(this, performance.now()), SWEEP_MS);
    this.sweeper.unref();
    return err;
  }

  /**
   * Once per pool: workers are threads of hostd's process, so their process.cwd() is the app's
   * directory (worker-chdir.ts) but the kernel's is hostd's. Say what that means and what to do.
   */
  private tellCwd(): void {
    const real = process.cwd();
    if (this.cfg.pool.cwd === real) return;
    this.log.info(
      `the app runs in ${this.cfg.pool.cwd}: process.cwd() and path.resolve() answer it in its workers, but a relative ` +
        `path handed straight to fs (fs.readFile('data.json')) resolves from hostd's directory ${real}; ` +
        `use path.resolve('data.json') or an absolute path (process pools, isolation: process, will make it exact)`,
      { cwd: this.cfg.pool.cwd },
    );
  }

  /** The first load error of `workers`, or "" when all loaded; a timeout counts as an error. */
  private async loaded(workers: PoolWorker[]): Promise<string> {
    const ms = this.cfg.pool.startTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`the app did not finish loading within ${ms} ms (pool.startTimeout)`), ms);
    });
    try {
      const errors = await Promise.race([Promise.all(workers.map((w) => w.ready)), timeout.then((e) => [e])]);
      return errors.find((e) => e !== '') ?? '';
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * TypeScript/JSX is compiled once per start/roll in this thread (esbuild, off the event loop)
   * rather than once per worker. If it fails, workers compile themselves and report the error
   * in loadApp's words.
   */
  private async compile(): Promise<string | undefined> {
    if (!needsCompile(this.cfg.module)) return undefined;
    try {
      return await compileApp(this.cfg.module, this.opts.cacheDir);
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- operations

  stats(): PoolStats {
    return {
      threads: this.workers.length,
      restarts: { ...this.restarts },
      loadError: this.loadError,
      memory: this.workers.map((w) => w.board.memory),
    };
  }

  /** Fresh workers first, then the old ones retire gracefully: nothing is dropped. */
  async roll(): Promise<void> {
    // A roll during the first load (a SIGHUP right after start) waits for it: killing the
    // workers still loading would read as a load failure.
    if (this.loading) await this.loading;
    if (this.closing) return;
    const previousEntry = this.entry;
    this.entry = await this.compile(); // code changes are picked up here
    await this.daemons?.prepare(this.entry, true);
    const old = this.workers.filter((w) => w.state === 'ready' || w.state === 'starting');
    const fresh: PoolWorker[] = [];
    const n = Math.max(1, this.loadError ? fullSize(this.cfg.pool) : this.target);
    for (let i = 0; i < n; i++) fresh.push(this.spawn());
    const err = await this.loaded(fresh);
    if (err) {
      this.entry = previousEntry; // replacements of the surviving workers keep loading the old build
      for (const w of fresh) this.kill(w, 'loadFailed');
      this.log.error('roll: the app does not load in fresh workers; keeping the current ones', { error: err });
      throw new HostdError('HOSTD_APP_LOAD', `app ${this.cfg.module} failed to load: ${err.split('\n')[0]}`);
    }
    if (this.loadError) {
      this.loadError = '';
      this.fronts.loadState(this.id, '');
    }
    this.spawnFailures = 0;
    this.target = n;
    this.replace(old, 'roll');
  }

  /**
   * Replaces `old`, the threads of a daemon process that is being replaced (one of its threads
   * could not be stopped: process-group.ts), as a roll does: successors first (the group places
   * them in another process), then the old ones retire once those have loaded, and finish their
   * requests meanwhile. Successors that do not load leave the old ones serving, as a failed roll.
   */
  async renew(old: readonly PoolWorker[]): Promise<void> {
    if (this.closing) return; // (the close ends them all)
    const live = old.filter((w) => w.state === 'ready' || w.state === 'starting');
    const fresh = live.map(() => this.spawn());
    const err = await this.loaded(fresh);
    if (this.closing) return;
    if (err) {
      for (const w of fresh) this.kill(w, 'loadFailed');
      this.log.error('the app does not load in the successors of a daemon process being replaced; its threads serve on', { error: err });
      return;
    }
    this.replace(live, null);
  }

  /** Stop taking requests, let queued and in-flight ones finish (up to the deadline), stop workers. */
  close(deadlineMs = 30_000): Promise<void> {
    this.closing$ ??= this.doClose(deadlineMs).finally(() => this.resolveClosed());
    return this.closing$;
  }

  private async doClose(deadlineMs: number): Promise<void> {
    this.closing = true;
    const deadline = performance.now() + deadlineMs;
    await this.fronts.closeDispatchers(this.id, deadlineMs);
    // Every front is done with the pool: workers finish waitUntil work (drained), within the deadline.
    const draining = this.workers.filter((w) => w.state === 'ready' || w.state === 'retiring');
    for (const w of draining) this.retire(w, null);
    const left = Math.max(0, deadline - performance.now());
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      void Promise.all(draining.map((w) => w.gone)).then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    for (const w of [...this.workers]) this.kill(w, 'closing');
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    // (piscina is unset when close() comes before start() got that far)
    if (this.piscina) await this.piscina.destroy();
    this.daemons?.close();
  }

  /** A daemon process went over memoryLimitMb (daemon/process). */
  countMemoryRestart(): void {
    this.restarts.memory++;
  }
}
