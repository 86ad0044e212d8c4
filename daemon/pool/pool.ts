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
import { Piscina } from 'piscina';
import { DEFAULT_COMPRESSION } from '../../shared/config/compression.js';
import type { ResolvedApp, ResolvedCompression } from '../../shared/config/types.js';
import { errorText, HostdError } from '../../shared/errors.js';
import { mountLabel, withFields, type Logger } from '../../shared/log.js';
import { decodeToControl, LOG_ERROR, LOG_WARN, type ControlHandlers, type ServeTask } from '../../shared/protocol/index.js';
import { compileApp, needsCompile } from '../app/compile.js';
import type { PoolFronts } from './fronts.js';
import { sweepPool } from './sweep.js';
import { PoolWorker, type KillReason, type RestartReason } from './worker.js';
import { workerEnv, workerFilename } from './worker-file.js';
import { CLOSE_GOING_AWAY, CLOSE_SERVICE_RESTART } from '../../shared/protocol/ws.js';

export type { RestartReason } from './worker.js';

const SWEEP_MS = 100;
const MAX_RESPAWN_BACKOFF_MS = 30_000;

export interface PoolOptions {
  /** Where loadApp puts compiled TypeScript/JSX. */
  cacheDir?: string;
  /** --graceful-timeout: how long a rolled worker's WebSockets may stay open (then 1001). */
  gracefulMs?: number;
}

/** The control thread's pool counters (the fronts add queue and in-flight figures). */
export interface PoolStats {
  /** Live workers (starting, serving or retiring). */
  threads: number;
  restarts: Record<RestartReason, number>;
  loadError: string;
  /** Memory of each live worker (heap + external), bytes. */
  memory: number[];
}

/** The mount's compression settings (on by default for text types), or null when off. */
function compressionOf(cfg: ResolvedApp): ResolvedCompression | null {
  const c = cfg.compression ?? DEFAULT_COMPRESSION;
  return c.enabled ? c : null;
}

function classify(err: unknown): RestartReason {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_WORKER_OUT_OF_MEMORY') return 'oom';
  if (err instanceof Error && /worker exited with code/i.test(err.message)) return 'exit';
  return 'error';
}

export class DaemonPool {
  private piscina: Piscina | undefined;
  readonly workers: PoolWorker[] = [];
  private nextKey = 0;
  /** Requests queued over all fronts (Int32 0), shared with every front's dispatcher. */
  readonly queued = new SharedArrayBuffer(4);
  /** WebSockets open on the pool over all fronts (Int32 0): maxConnections (native-front/ws). */
  readonly sockets = new SharedArrayBuffer(4);
  readonly restarts: Record<RestartReason, number> = { maxRequests: 0, timeout: 0, memory: 0, oom: 0, exit: 0, error: 0, roll: 0 };
  /** Workers we want serving: threads, minus idle-reaped ones (never below minThreads). */
  target: number;
  private sweeper: NodeJS.Timeout | null = null;
  private respawnTimer: NodeJS.Timeout | null = null;
  private spawnFailures = 0;
  private starting = true;
  closing = false;
  private closing$: Promise<void> | null = null;
  /** Resolves once the pool has closed (its threads are gone). */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  /** Set when the app does not load: the mount answers 503. */
  loadError = '';
  /** TypeScript/JSX compiled once here for every worker (see compile()). */
  private entry: string | undefined;
  readonly log: Logger;

  constructor(
    readonly id: number,
    readonly cfg: ResolvedApp,
    private readonly fronts: PoolFronts,
    log: Logger,
    private readonly opts: PoolOptions = {},
  ) {
    this.log = withFields(log, { mount: mountLabel(cfg.url) });
    this.target = Math.max(1, cfg.pool.threads);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** How long a retiring worker's WebSockets may stay open (sweep.ts waits that long for it). */
  get gracefulMs(): number {
    return this.opts.gracefulMs ?? 30_000;
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

  private loading: Promise<string> | undefined;

  private async doStart(): Promise<string> {
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
    this.piscina.on('error', (err: unknown) => this.log.error('daemon pool error', { error: errorText(err) }));
    this.entry = await this.compile();
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

  private spawn(): PoolWorker {
    const pool = this.cfg.pool;
    const limit = pool.maxRequests > 0 ? pool.maxRequests + Math.floor(Math.random() * (pool.maxRequestsJitter + 1)) : 0;
    const w = new PoolWorker(++this.nextKey, this.fronts.count, limit);
    this.workers.push(w);
    const handlers: ControlHandlers = {
      ready: (threadId, loadError) => this.onReady(w, threadId, loadError),
      log: (level, text, requestId) => {
        // (threadId is -1 until ready: lines printed while the app loads carry no thread)
        const fields = { thread: w.threadId >= 0 ? w.threadId : undefined, requestId: requestId || undefined };
        if (level === LOG_ERROR) this.log.error(text, fields);
        else if (level === LOG_WARN) this.log.warn(text, fields);
        else this.log.info(text, fields);
      },
    };
    w.controlPort.on('message', (batch: unknown[]) => {
      if (w.state === 'dead') return;
      const bad = decodeToControl(batch, handlers);
      if (bad !== 0) this.log.error('daemon worker sent an unknown message', { tag: bad });
    });
    w.controlPort.unref();
    for (let f = 0; f < this.fronts.count; f++) this.fronts.attach(this.id, f, w.frontAttach[f]);
    const task: ServeTask = {
      kind: 'serve',
      control: w.workerControl,
      links: w.workerLinks,
      board: w.board.buffer,
      addresses: w.frontAttach.map((a) => a.address),
      modulePath: this.cfg.module,
      interface: this.cfg.interface,
      mount: this.cfg.url,
      stripPrefix: this.cfg.stripPrefix,
      compression: compressionOf(this.cfg),
      env: pool.env,
      cacheDir: this.opts.cacheDir,
      entry: this.entry,
    };
    this.piscina!.run(task, { transferList: [w.workerControl, ...w.workerLinks] as never }).then(
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

  /** Ends one specific thread (busy or not). piscina notices the exit and drops the worker. */
  kill(w: PoolWorker, why: KillReason): void {
    if (w.state === 'dead') return;
    w.killedFor ??= why;
    if (w.threadId >= 0 && this.piscina) {
      for (const t of this.piscina.threads) {
        if (t.threadId === w.threadId) {
          void t.terminate();
          break;
        }
      }
    }
    this.died(w, null);
  }

  private died(w: PoolWorker, err: unknown): void {
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
    // A worker a roll replaced while it was still loading (a SIGHUP right at startup) did not fail to
    // load: its fresh replacements have loaded the app; the initial start must not read it as an error.
    if (wasStarting)
      w.resolveReady(w.killedFor === 'roll' ? '' : `the worker exited while loading the app: ${errorText(err ?? 'terminated')}`);
    this.fronts.detach(this.id, w.key, reason);
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
    const old = this.workers.filter((w) => w.state === 'ready' || w.state === 'starting');
    const fresh: PoolWorker[] = [];
    const n = Math.max(1, this.loadError ? this.cfg.pool.threads : this.target);
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
    for (const w of old) {
      if (w.state === 'ready') this.retire(w, 'roll');
      else if (w.state === 'starting') {
        this.restarts.roll++;
        this.kill(w, 'roll');
      }
    }
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
  }
}
