// The Host: one hostd instance, on the control (main) thread. It resolves the configuration
// (vhost files and objects), starts the fronts (front 0 on this thread, the rest in worker
// threads) and the app pools, applies every configuration in named steps (apply.ts) and drains
// on close. createHost() is the programmatic API; the CLI is a thin shell around it.
import { EventEmitter } from 'node:events';
import { DaemonPool } from '../../daemon/pool/pool.js';
import type {
  AppMountConfig,
  ConfigProblem,
  ResolvedApp,
  ResolvedVhost,
  StaticMountConfig,
  VhostConfig,
} from '../../shared/config/types.js';
import { formatProblem, normalizeMountUrl } from '../../shared/config/index.js';
import { setDropTarget } from '../../shared/config/resolve/accounts.js';
import { errorText, HostdError } from '../../shared/errors.js';
import { mountLabel, withFields, type Logger } from '../../shared/log.js';
import { LogFile } from '../log/destination.js';
import { FileErrorLog } from '../log/error-log.js';
import { watchApp } from './code-watch.js';
import { FdWatch } from './descriptors.js';
import { MemoryCeiling } from './memory-ceiling.js';
import { loadUws } from '../http/uws.js';
import { apply, origin, ROLL_ALL, ROLL_NONE, SiteLoadErrors, type ApplyEnv, type ApplyOptions, type Live } from './apply.js';
import { resolveSites } from './config.js';
import { FrontSet } from './fronts.js';
import { statusWithSites, type StatusJson } from './report.js';
import { drain } from './shutdown.js';
import { type HostOptions, settle } from './options.js';
import { dropTo, prepareFor, unbindable, type RunAs } from './privileges.js';
import { keepBroken, replaceSite } from './site-reload.js';
import { startStatusServer, type StatusServer } from './status-server.js';

export type { HostOptions } from './options.js';

/** A config error carrying every problem found. */
export class ConfigError extends HostdError {
  constructor(readonly problems: ConfigProblem[]) {
    super('HOSTD_CONFIG', problems.map(formatProblem).join('\n'));
  }
}

export type MountConfig = StaticMountConfig | AppMountConfig;

export interface ReloadOptions {
  /** SIGHUP's reload: sites that fail keep their running configuration (see Host.reload). */
  keepBroken?: boolean;
}

/**
 * One hostd instance. Emits 'error' (a HostdError, code HOSTD_FRONT_FAILED) when a front thread fails:
 * it cannot go on with fewer fronts, so the embedding program decides (the CLI exits 70); with no
 * 'error' listener the host closes itself instead of taking the embedding process down.
 */
export class Host extends EventEmitter {
  private readonly errorLog: Logger;
  private readonly ownErrorLog: FileErrorLog | undefined;
  private readonly accessLog: LogFile | undefined;
  readonly gracefulMs: number;
  readonly frontCount: number;
  private readonly trustProxy: string[];
  private fronts: FrontSet | undefined;
  private sites: Array<VhostConfig | string>;
  private readonly extraMounts: Array<{ vhost: VhostConfig; mount: MountConfig }> = [];
  private readonly live: Live = { vhosts: [], listeners: new Map(), pools: new Map(), generation: 0 };
  private readonly retiring = new Set<Promise<void>>();
  private nextPoolId = 0;
  /** Every pool that has not finished closing, live or retiring, by id (fronts report by id). */
  private readonly pools = new Map<number, DaemonPool>();
  private state: 'new' | 'listening' | 'closing' | 'closed' = 'new';
  /** listen() was called: mount() from now on applies its mount once listen() is done. */
  private listenCalled = false;
  private closing: Promise<void> | undefined;
  private statusServer: StatusServer | undefined;
  readonly fdWatch: FdWatch;
  /** --max-memory (null without one). */
  readonly memoryCeiling: MemoryCeiling | null = null;
  /** Set the moment close() is called, before queued work: /healthz turns 503 at once. */
  private drainRequested = false;
  private cancel!: (err: Error) => void;
  private readonly cancelled: Promise<never>;
  /** --user: whom the serving process drops to once listening; `dropped` once it has. */
  private readonly runAs: RunAs | undefined;
  private dropped = false;
  /** New pools wait for it (apply.ts): with --user, until the drop. */
  private poolsMayStart: Promise<void> = Promise.resolve();
  /** Serialises listen/reload/close: each waits for the one before it. */
  private queue: Promise<unknown> = Promise.resolve();
  readonly startedAt = Date.now();

  constructor(private readonly options: HostOptions) {
    super();
    loadUws(); // fail fast, before anything else, when only the JS fallback is available
    this.sites = options.sites ?? [];
    if (typeof options.errorLog === 'object') this.errorLog = options.errorLog;
    else this.errorLog = this.ownErrorLog = new FileErrorLog(options.errorLog ?? '-');
    const accessTarget = options.accessLog === undefined ? '-' : options.accessLog;
    if (accessTarget !== false && accessTarget !== 'off') this.accessLog = new LogFile(accessTarget, 1);
    const settings = settle(options);
    this.gracefulMs = settings.gracefulMs;
    this.frontCount = settings.fronts;
    this.trustProxy = settings.trustProxy;
    this.runAs = settings.runAs;
    // Before the configuration is read: pool.user/pool.group then say they cannot work.
    if (this.runAs) setDropTarget(this.runAs.user);
    if (settings.maxMemory !== undefined)
      this.memoryCeiling = new MemoryCeiling(settings.maxMemory, () => this.pools.values(), this.errorLog);
    this.cancelled = new Promise<never>((_, reject) => (this.cancel = reject));
    this.cancelled.catch(() => undefined);
    this.fdWatch = new FdWatch((paused, open, limit) => {
      this.fronts?.broadcast({ t: 'accept', paused });
      if (paused) this.errorLog.error('out of file descriptors: not accepting connections for now', { open, limit });
      else this.errorLog.info('file descriptors available again: accepting connections', { open, limit });
    });
  }

  get log(): Logger {
    return this.errorLog;
  }

  /** Adds a mount to the vhost with the same serverName and listen (created when absent). */
  mount(vhost: VhostConfig, mount: MountConfig): this {
    this.extraMounts.push({ vhost, mount });
    // On a running host (or one whose listen() is under way, which may have read the mounts
    // already): add it without rolling the other pools (a reload would roll them all).
    if (this.state === 'listening' || (this.state === 'new' && this.listenCalled))
      void this.serialise(async () => {
        if (this.state === 'listening') await this.apply(await this.resolve(), { strict: true, roll: ROLL_NONE });
      }).catch((err) => {
        this.extraMounts.splice(
          this.extraMounts.findIndex((m) => m.mount === mount),
          1,
        );
        this.errorLog.error('mount failed', { err: (err as Error).message });
      });
    return this;
  }

  /** Validates the whole configuration; rejects with a ConfigError listing every problem. */
  check(): Promise<readonly ResolvedVhost[]> {
    return this.resolve();
  }

  /** Resolves when every listener is bound (apps may still be loading: their requests wait). */
  listen(): Promise<void> {
    this.listenCalled = true;
    return this.serialise(async () => {
      if (this.state !== 'new') throw new HostdError('HOSTD_CLOSED', `listen() on a host that is ${this.state}`);
      const vhosts = await this.resolve();
      await this.fdWatch.start();
      this.fronts = await FrontSet.start(
        this.frontCount,
        {
          accessLog: this.accessLog ? (this.options.logFormat ?? 'combined') : null,
          trustProxy: this.trustProxy,
          fileCache: this.options.fileCache ?? {},
          gracefulMs: this.gracefulMs,
        },
        {
          log: (level, msg, fields) => this.errorLog[level](msg, fields),
          access: (text) => this.accessLog?.write(text),
          retire: (pool, key) => this.poolById(pool)?.retireKey(key),
          kill: (pool, key) => this.poolById(pool)?.killKey(key),
          drained: (pool, key, front) => this.poolById(pool)?.frontDrained(key, front),
          fatal: (front, error) => this.fatal(front, error),
        },
      );
      if (this.options.status) await this.openStatus(this.options.status);
      let poolsGo = () => {};
      if (this.runAs) this.poolsMayStart = new Promise<void>((resolve) => (poolsGo = resolve));
      await this.apply(vhosts, { strict: false, roll: ROLL_NONE });
      if (this.runAs) await this.dropPrivileges(this.runAs);
      poolsGo();
      this.poolsMayStart = Promise.resolve();
      this.memoryCeiling?.start();
      this.state = 'listening';
    });
  }

  /**
   * Re-reads the configuration (or takes `next` as the new sites) and applies it: new mounts and
   * pools start before old ones retire, app pools roll their workers (code changes included).
   * On any problem the running configuration stays and the returned promise rejects. With
   * `keepBroken` (SIGHUP), a site whose file fails to load or check, or whose app fails to load
   * in fresh workers, keeps its running configuration and pools while every other site applies;
   * the promise then resolves with those sites' problems (empty when everything applied).
   */
  reload(next?: Array<VhostConfig | string>, opts: ReloadOptions = {}): Promise<ConfigProblem[]> {
    return this.serialise(async () => {
      this.mustServe('reload()');
      const previous = this.sites;
      if (next) this.sites = next;
      try {
        if (opts.keepBroken) return await this.applyKeepingBroken();
        await this.apply(await this.resolve(), { strict: true, roll: ROLL_ALL });
        return [];
      } catch (err) {
        this.sites = previous;
        throw err;
      }
    });
  }

  /**
   * Reloads one site (POST /reload?site=NAME): re-reads the configuration, applies that site's
   * new vhost and rolls that site's pools only (or, with `mount`, that app mount's pool); every
   * other site runs on untouched. On a problem in that site's file, or an app of it that does not
   * load, the running configuration stays and the promise rejects (a ConfigError lists the
   * problems as file:line: message).
   */
  reloadSite(name: string, opts: { mount?: string } = {}): Promise<void> {
    return this.serialise(async () => {
      this.mustServe('reloadSite()');
      const site = this.live.vhosts.find((v) => v.name === name);
      if (!site) {
        const names = this.live.vhosts.map((v) => v.name).join(', ');
        throw new HostdError('HOSTD_NO_SITE', `no site named "${name}" (sites: ${names || 'none'})`);
      }
      let mountUrl: string | undefined;
      if (opts.mount !== undefined) {
        const r = normalizeMountUrl(opts.mount);
        if ('error' in r || !site.mounts.some((m) => m.kind === 'app' && m.url === r.url)) {
          const apps = site.mounts.flatMap((m) => (m.kind === 'app' ? [mountLabel(m.url)] : [])).join(', ');
          throw new HostdError('HOSTD_NO_SITE', `site "${name}" has no app mounted at ${opts.mount} (apps: ${apps || 'none'})`);
        }
        mountUrl = r.url;
      }
      const fresh = await this.resolveAll(false);
      const { vhosts, problems } = replaceSite(this.live.vhosts, site, fresh.vhosts, fresh.problems);
      if (problems.length) throw new ConfigError(problems);
      const next = vhosts.find((v) => v.file === site.file)?.name ?? name; // name: may have changed
      await this.apply(vhosts, { strict: true, roll: (s, url) => s === next && (mountUrl === undefined || url === mountUrl) });
    });
  }

  /** Stops accepting, lets in-flight requests finish (up to gracefulTimeout), stops the pools. */
  close(): Promise<void> {
    if (!this.drainRequested) {
      this.drainRequested = true;
      // A reload still waiting for apps to load gives up now rather than delay the drain.
      this.cancel(new HostdError('HOSTD_CLOSED', 'the host is closing'));
    }
    this.closing ??= this.serialise(() => this.shutdown());
    return this.closing;
  }

  /** True from the moment close() starts draining. */
  get draining(): boolean {
    return this.drainRequested || this.state === 'closing' || this.state === 'closed';
  }

  /** The port of the --status listener, when it is a TCP one. */
  get statusPort(): number | undefined {
    return this.statusServer?.port;
  }

  /** The addresses actually bound (ports resolved when the config said 0). */
  get addresses(): { host: string; port: number; secure: boolean }[] {
    return [...this.live.listeners.values()].map((l) => ({ host: l.address.host, port: l.port, secure: l.secure }));
  }

  /** The running configuration. */
  get config(): readonly ResolvedVhost[] {
    return this.live.vhosts;
  }

  get generation(): number {
    return this.live.generation;
  }

  /**
   * Resolves once every app of the running configuration has finished loading, or failed to (its
   * mount then answers 503). listen() does not wait for apps: requests for a loading app wait in
   * its queue.
   */
  async ready(): Promise<void> {
    await Promise.all([...this.live.pools.values()].map((lp) => lp.pool.ready()));
  }

  /**
   * Drops app responses from the response caches of every front: one URL (path and query as
   * requested), or every URL under a prefix; of one host (as in the Host header) or all.
   * Resolves with how many entries were dropped.
   */
  async purge(what: { url?: string; prefix?: string; host?: string }): Promise<number> {
    if (!this.fronts) return 0;
    const replies = await this.fronts.requestAll({ t: 'purge', ...what });
    return replies.reduce((n, r) => n + (r.purged ?? 0), 0);
  }

  /** What /status says: hosts, mounts, pools, workers, queues, counters. */
  async status(): Promise<StatusJson> {
    return statusWithSites(this, this.fronts ? await this.fronts.stats() : [], this.live);
  }

  /** Lines the log destinations dropped because they could not keep up. */
  get droppedLogLines(): number {
    return (this.accessLog?.dropped ?? 0) + (this.ownErrorLog?.dropped ?? 0);
  }

  /** Reopens log files (SIGUSR1, after logrotate). */
  reopenLogs(): void {
    this.accessLog?.reopen();
    this.ownErrorLog?.reopen();
  }

  private async openStatus(address: string): Promise<void> {
    const isDefault = this.options.statusDefault === true;
    try {
      this.statusServer = await startStatusServer(this, address, { tokenFile: this.options.statusTokenFile, private: isDefault });
    } catch (err) {
      // A default must not stop hostd from serving: two hostds on one machine under one user (the
      // first keeps the socket), or a runtime directory hostd may not create.
      if (!isDefault) throw err;
      const inUse = err instanceof HostdError && err.code === 'HOSTD_ADDRESS_IN_USE';
      this.errorLog.warn(
        inUse
          ? 'the default status socket belongs to a running hostd; serving without a status listener (--status PATH|HOST:PORT picks another)'
          : 'cannot open the default status socket; serving without a status listener (--status PATH|HOST:PORT picks another)',
        { socket: address, ...(inUse ? {} : { error: (err as Error).message }) },
      );
      return;
    }
    this.errorLog.info('status endpoint', { status: `${this.statusServer.origin}/status` });
  }

  /**
   * --user: every listener is bound, certificates read, the status socket open; the log files
   * must be open too (and become the user's, for SIGUSR1). Then the drop (privileges.ts); the new
   * pools start after it.
   */
  private async dropPrivileges(to: RunAs): Promise<void> {
    await Promise.all([this.accessLog?.opened(), this.ownErrorLog?.opened(), prepareFor(to)]);
    for (const file of [this.accessLog, this.ownErrorLog]) file?.chown(to.uid, to.gid);
    dropTo(to);
    this.dropped = true;
    this.errorLog.info('dropped privileges', { user: to.user, uid: to.uid, gid: to.gid });
  }

  private poolById(id: number): DaemonPool | undefined {
    return this.pools.get(id);
  }

  private newPool(mount: ResolvedApp, vhost: ResolvedVhost): DaemonPool {
    // Tags read `site=NAME mount=/x vhost=...` (the pool's worker set sets mount in this place).
    const fields = { site: vhost.name, mount: mountLabel(mount.url), vhost: vhost.serverNames[0] ?? '*' };
    const pool = new DaemonPool(++this.nextPoolId, mount, this.fronts!, withFields(this.errorLog, fields), {
      gracefulMs: this.gracefulMs,
    });
    this.pools.set(pool.id, pool);
    void pool.closed.then(() => this.pools.delete(pool.id));
    return pool;
  }

  private fatal(front: number, error: string): void {
    const err = new HostdError('HOSTD_FRONT_FAILED', `front ${front} failed: ${error}`);
    if (this.listenerCount('error') > 0) {
      this.errorLog.error('a front thread failed; the host cannot go on with fewer fronts', { front, error });
      this.emit('error', err);
      return;
    }
    this.errorLog.error('a front thread failed; the host cannot go on with fewer fronts and closes', { front, error });
    void this.close();
  }

  private serialise<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(step, step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async resolve(): Promise<ResolvedVhost[]> {
    const { vhosts, problems } = await this.resolveAll(true);
    if (problems.length) throw new ConfigError(problems);
    return vhosts;
  }

  /**
   * Every vhost that resolved, and every problem; conflicts across vhosts checked or not. After a
   * --user drop, a new listen address only root may bind is a problem of its vhost's file.
   */
  private async resolveAll(conflicts: boolean): Promise<{ vhosts: ResolvedVhost[]; problems: ConfigProblem[] }> {
    const r = await resolveSites(this.sites, this.extraMounts, {
      baseDir: this.options.baseDir ?? process.cwd(),
      listen: this.options.listen,
      conflicts,
    });
    if (this.dropped && this.runAs) r.problems.push(...unbindable(r.vhosts, new Set(this.live.listeners.keys()), this.runAs.user));
    return r;
  }

  /** reload() with keepBroken: see there. */
  private async applyKeepingBroken(): Promise<ConfigProblem[]> {
    const fresh = await this.resolveAll(false);
    const { vhosts, kept, keptSites, unresolved } = keepBroken(this.live.vhosts, fresh.vhosts, fresh.problems);
    if (unresolved) throw new ConfigError(kept);
    try {
      await this.apply(vhosts, { strict: true, roll: (site) => !keptSites.has(site) });
      return kept;
    } catch (err) {
      if (!(err instanceof SiteLoadErrors)) throw err;
      // The sites whose apps did not load go back to their running vhost (or out, when new); their
      // rolled pools kept their workers. Every roll has been done once: none again.
      const failed = new Set(err.failures.map((f) => f.site));
      const running = new Map(this.live.vhosts.map((v) => [v.file, v]));
      const retry = vhosts.flatMap((v) => (!failed.has(v.name) ? [v] : running.has(v.file) ? [running.get(v.file)!] : []));
      await this.apply(retry, { strict: true, roll: ROLL_NONE });
      const fileOf = (site: string) => vhosts.find((v) => v.name === site)?.file ?? site;
      return [...kept, ...err.failures.map((f) => ({ file: fileOf(f.site), line: 0, message: f.error.message }))];
    }
  }

  private mustServe(what: string): void {
    if (this.state !== 'listening' || this.drainRequested)
      throw new HostdError('HOSTD_CLOSED', `${what} on a host that is ${this.drainRequested ? 'closing' : this.state}`);
  }

  private applyEnv(): ApplyEnv {
    return {
      fronts: this.fronts!,
      log: this.errorLog,
      gracefulMs: this.gracefulMs,
      newPool: (mount, vhost) => this.newPool(mount, vhost),
      watch: (mount, pool) => (mount.watch || mount.touchFile ? this.watch(mount, pool) : undefined),
      cancelled: this.cancelled,
      retiring: this.retiring,
      poolsMayStart: this.poolsMayStart,
    };
  }

  private apply(vhosts: ResolvedVhost[], opts: ApplyOptions): Promise<void> {
    return apply(this.applyEnv(), this.live, vhosts, opts);
  }

  private watch(mount: ResolvedApp, pool: DaemonPool): () => void {
    return watchApp(mount, (reason) => {
      pool.log.info('code changed; rolling the pool', { reason }); // (the pool's log names site and mount)
      pool.roll().then(
        () => this.fronts?.broadcast({ t: 'rolled', pool: pool.id }),
        (err) => pool.log.error('rolling the pool failed; the old workers keep serving', { err }),
      );
    });
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'closed';
      await this.flushLogs();
      return;
    }
    this.state = 'closing';
    this.fdWatch.stop();
    this.memoryCeiling?.stop();
    const fronts = this.fronts!;
    try {
      await drain(fronts, this.live, this.errorLog, this.gracefulMs, this.retiring);
    } catch (err) {
      this.errorLog.error('shutdown: draining failed', { error: errorText(err) });
    }
    this.statusServer?.close();
    this.state = 'closed';
    this.errorLog.info('stopped');
    await this.flushLogs();
  }

  /** Writes out what the log files hold (before the process exits). */
  async flushLogs(): Promise<void> {
    await this.accessLog?.close();
    if (this.ownErrorLog) await this.ownErrorLog.close();
  }
}

/** Validates the configuration and prepares a host; call listen() to serve. */
export async function createHost(options: HostOptions = {}): Promise<Host> {
  const host = new Host(options);
  if (options.sites?.length) await host.check();
  return host;
}

export { origin };
