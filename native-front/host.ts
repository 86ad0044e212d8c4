// The Host: one hostd instance. It resolves the configuration (vhost files and objects), turns
// every mount into a handler (static files or an app's daemon pool), opens one listener per
// address and swaps routing tables atomically on reload. createHost() is the programmatic API;
// the CLI is a thin shell around it.
import type {
  AppMountConfig,
  ConfigProblem,
  Duration,
  ResolvedApp,
  ResolvedMount,
  ResolvedVhost,
  StaticMountConfig,
  VhostConfig,
} from '../shared/config/types.js';
import { checkConflicts, formatProblem, loadSites, parseDuration, resolveMount, resolveVhost } from '../shared/config/index.js';
import { HostdError } from '../shared/errors.js';
import { createAppMount } from './dispatch/index.js';
import { buildTable, Front, type MountRoute } from './front.js';
import { defaultTls, Listener, listenKey, tlsKey, validateTls } from './listener.js';
import { AccessLog, type LogFormat } from './log/access-log.js';
import { FileErrorLog } from './log/error-log.js';
import type { ErrorLog, MountHandler } from './mount.js';
import { watchApp } from './ops/code-watch.js';
import { MountStats } from './ops/mount-stats.js';
import { parseAddress, startStatusServer, type StatusServer } from './ops/status-server.js';
import { createStaticMount, FileCache } from './static/index.js';
import { TrustProxy } from './trust-proxy.js';
import { loadUws } from './uws.js';

export interface HostOptions {
  /** Vhost objects (as in a vhost file) and/or paths of vhost files or directories of them. */
  sites?: Array<VhostConfig | string>;
  /** Where relative paths in vhost objects resolve from; default process.cwd(). */
  baseDir?: string;
  /** PORT or HOST:PORT overriding every vhost's listen (the CLI's --listen). */
  listen?: string;
  /** Access log: a file, "-" for stdout (the default), or false/"off" for none. */
  accessLog?: string | false;
  logFormat?: LogFormat;
  /** Error log: a file or "-" for stderr (the default), or an ErrorLog object. */
  errorLog?: string | ErrorLog;
  /** CIDRs of proxies whose X-Forwarded-For / X-Forwarded-Proto are believed. */
  trustProxy?: string | string[];
  /** How long close() lets in-flight requests finish; default 30s. */
  gracefulTimeout?: Duration;
  /** HOST:PORT of the internal /metrics, /status, /healthz listener (the CLI's --status). */
  status?: string;
  /** Static file memory cache bounds (bytes). */
  fileCache?: { maxBytes?: number; maxFileBytes?: number };
}

/** A config error carrying every problem found. */
export class ConfigError extends HostdError {
  constructor(readonly problems: ConfigProblem[]) {
    super('HOSTD_CONFIG', problems.map(formatProblem).join('\n'));
  }
}

interface LiveMount {
  fingerprint: string;
  route: MountRoute;
  /** Stops the watch/touchFile watcher of an app mount. */
  unwatch?: () => void;
}

type MountConfig = StaticMountConfig | AppMountConfig;

export class Host {
  private readonly front: Front;
  private readonly errorLog: ErrorLog;
  private readonly ownErrorLog: FileErrorLog | undefined;
  private readonly fileCache: FileCache;
  private readonly gracefulMs: number;
  private sites: Array<VhostConfig | string>;
  private readonly extraMounts: Array<{ vhost: VhostConfig; mount: MountConfig }> = [];
  private listeners = new Map<string, Listener>();
  private mounts = new Map<string, LiveMount>();
  private stats = new Map<string, MountStats>();
  private vhosts: ResolvedVhost[] = [];
  private state: 'new' | 'listening' | 'closing' | 'closed' = 'new';
  private closing: Promise<void> | undefined;
  private statusServer: StatusServer | undefined;
  /** Set the moment close() is called, before queued work: /healthz turns 503 at once. */
  private drainRequested = false;
  /** Mounts retired by a reload that are still finishing their requests. */
  private readonly retiring = new Set<Promise<void>>();
  /** Serialises listen/reload/close: each waits for the one before it. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Incremented by every applied configuration. */
  generation = 0;
  readonly startedAt = Date.now();

  constructor(private readonly options: HostOptions) {
    loadUws(); // fail fast, before anything else, when only the JS fallback is available
    this.sites = options.sites ?? [];
    if (typeof options.errorLog === 'object') this.errorLog = options.errorLog;
    else this.errorLog = this.ownErrorLog = new FileErrorLog(options.errorLog ?? '-');
    const accessTarget = options.accessLog === undefined ? '-' : options.accessLog;
    const accessLog =
      accessTarget === false || accessTarget === 'off' ? undefined : new AccessLog(accessTarget, options.logFormat ?? 'combined');
    const proxies = typeof options.trustProxy === 'string' ? options.trustProxy.split(',') : options.trustProxy;
    this.front = new Front({
      log: this.errorLog,
      accessLog,
      trustProxy: proxies && proxies.length ? new TrustProxy(proxies) : undefined,
    });
    this.fileCache = new FileCache(options.fileCache ?? {});
    const graceful = options.gracefulTimeout === undefined ? 30_000 : parseDuration(options.gracefulTimeout);
    if (graceful === undefined)
      throw new HostdError('HOSTD_USAGE', `gracefulTimeout: "${options.gracefulTimeout}" is not a duration (use 500ms, 30s, 2m)`);
    this.gracefulMs = graceful;
    if (options.status) parseAddress(options.status); // a usage error, before anything starts
  }

  get log(): ErrorLog {
    return this.errorLog;
  }

  /** Adds a mount to the vhost with the same serverName and listen (created when absent). */
  mount(vhost: VhostConfig, mount: MountConfig): this {
    this.extraMounts.push({ vhost, mount });
    // On a running host: add it without rolling the other pools (a reload would roll them all).
    if (this.state === 'listening')
      void this.serialise(async () => {
        if (this.state === 'listening') await this.apply(await this.resolve(), { strict: true, roll: false });
      }).catch((err) => {
        this.extraMounts.splice(this.extraMounts.findIndex((m) => m.mount === mount), 1);
        this.errorLog.error('mount failed', { err: (err as Error).message });
      });
    return this;
  }

  /** Validates the whole configuration; rejects with a ConfigError listing every problem. */
  check(): Promise<readonly ResolvedVhost[]> {
    return this.resolve();
  }

  /** Resolves when every listener is bound. */
  listen(): Promise<void> {
    return this.serialise(async () => {
      if (this.state !== 'new') throw new HostdError('HOSTD_CLOSED', `listen() on a host that is ${this.state}`);
      await this.apply(await this.resolve(), { strict: false, roll: false });
      if (this.options.status) {
        this.statusServer = await startStatusServer(this, this.options.status);
        this.errorLog.info('status endpoint', { status: `http://${this.statusServer.host}:${this.statusServer.port}/status` });
      }
      this.state = 'listening';
    });
  }

  /**
   * Re-reads the configuration (or takes `next` as the new sites) and applies it: new mounts and
   * pools start before old ones retire, app pools roll their workers (code changes included).
   * On any problem the running configuration stays and the returned promise rejects.
   */
  reload(next?: Array<VhostConfig | string>): Promise<void> {
    return this.serialise(async () => {
      if (this.state !== 'listening') throw new HostdError('HOSTD_CLOSED', `reload() on a host that is ${this.state}`);
      const previous = this.sites;
      if (next) this.sites = next;
      try {
        await this.apply(await this.resolve(), { strict: true, roll: true });
      } catch (err) {
        this.sites = previous;
        throw err;
      }
    });
  }

  /** Stops accepting, lets in-flight requests finish (up to gracefulTimeout), stops the pools. */
  close(): Promise<void> {
    this.drainRequested = true;
    this.closing ??= this.serialise(() => this.shutdown());
    return this.closing;
  }

  /** True from the moment close() starts draining. */
  get draining(): boolean {
    return this.drainRequested || this.state === 'closing' || this.state === 'closed';
  }

  /** The port of the --status listener, when there is one. */
  get statusPort(): number | undefined {
    return this.statusServer?.port;
  }

  /** The addresses actually bound (ports resolved when the config said 0). */
  get addresses(): { host: string; port: number; secure: boolean }[] {
    return [...this.listeners.values()].map((l) => ({ host: l.address.host, port: l.port, secure: l.secure }));
  }

  /** The running configuration. */
  get config(): readonly ResolvedVhost[] {
    return this.vhosts;
  }

  /** Live mounts with their handlers and counters (for /status and /metrics). */
  get routes(): MountRoute[] {
    return [...this.mounts.values()].map((m) => m.route);
  }

  get inFlight(): number {
    return this.front.inFlight;
  }

  get cache(): FileCache {
    return this.fileCache;
  }

  get unrouted(): number {
    return this.front.unrouted;
  }

  /** Reopens log files (SIGUSR1, after logrotate). */
  reopenLogs(): void {
    this.front.accessLog?.reopen();
    this.ownErrorLog?.reopen();
  }

  private serialise<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(step, step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Validates everything, all problems at once. */
  private async resolve(): Promise<ResolvedVhost[]> {
    const baseDir = this.options.baseDir ?? process.cwd();
    const problems: ConfigProblem[] = [];
    const vhosts: ResolvedVhost[] = [];
    const paths = this.sites.filter((s): s is string => typeof s === 'string');
    if (paths.length) {
      const loaded = await loadSites(paths, { listen: this.options.listen, conflicts: false });
      vhosts.push(...loaded.vhosts);
      problems.push(...loaded.problems);
    }
    this.sites.forEach((site, i) => {
      if (typeof site === 'string') return;
      const r = resolveVhost(site, { file: `<sites[${i}]>`, baseDir, listen: this.options.listen });
      if (r.vhost) vhosts.push(r.vhost);
      problems.push(...r.problems);
    });
    this.extraMounts.forEach(({ vhost, mount }, i) => {
      const file = `<mount[${i}]>`;
      const r = resolveMount(mount, { file, baseDir });
      problems.push(...r.problems);
      if (!r.mount) return;
      const v = resolveVhost({ ...vhost, static: [], apps: [] }, { file, baseDir, listen: this.options.listen });
      problems.push(...v.problems);
      if (!v.vhost) return;
      const same = vhosts.find(
        (x) => listenKey(x.listen) === listenKey(v.vhost!.listen) && x.serverNames.join() === v.vhost!.serverNames.join(),
      );
      if (same) same.mounts.push(r.mount);
      else vhosts.push({ ...v.vhost, mounts: [r.mount] });
    });
    problems.push(...checkConflicts(vhosts));
    if (problems.length) throw new ConfigError(problems);
    return vhosts;
  }

  /**
   * Makes `vhosts` the running configuration. Order matters for a reload that drops nothing:
   * everything that can fail (certificates, new pools loading the app, rolled pools, new
   * sockets) happens first while the old configuration keeps serving; then the routing tables
   * swap in one synchronous step; then what is gone retires in the background, finishing its
   * in-flight requests. On a failure before the swap, whatever was started is stopped and the
   * old configuration stays in place untouched.
   */
  private async apply(vhosts: ResolvedVhost[], opts: { strict: boolean; roll: boolean }): Promise<void> {
    const certs = await validateTls(vhosts);
    const next = new Map<string, LiveMount>();
    const started: MountHandler[] = [];
    const toRoll: MountHandler[] = [];
    const creating: Promise<void>[] = [];
    for (const vhost of vhosts) {
      for (const mount of vhost.mounts) {
        const key = mountKey(vhost, mount);
        const fingerprint = JSON.stringify(mount);
        const live = this.mounts.get(key);
        if (live && live.fingerprint === fingerprint && !next.has(key)) {
          // Same handler, pool and counters; the route carries the new (equal) mount object so
          // that /status finds it from the new configuration.
          next.set(key, { ...live, route: { ...live.route, mount } });
          if (opts.roll && mount.kind === 'app') toRoll.push(live.route.handler);
          continue;
        }
        let stats = this.stats.get(key);
        if (!stats) this.stats.set(key, (stats = new MountStats(vhost.serverNames[0] ?? '*', mount.url || '/', mount.kind)));
        const mountStats = stats;
        next.set(key, { fingerprint, route: undefined as unknown as MountRoute }); // keeps the config's order
        creating.push(
          this.createHandler(vhost, mount, opts.strict).then((handler) => {
            started.push(handler);
            next.set(key, { fingerprint, route: { mount, handler, stats: mountStats } });
          }),
        );
      }
    }
    // New pools start and unchanged ones roll (fresh workers, fresh code, loaded before the old
    // ones retire), all at once. A pool whose fresh workers fail to load keeps its old ones; a
    // new app that fails to load on reload fails the reload.
    const outcomes = await Promise.allSettled([
      ...creating,
      ...toRoll.map((h) => h.roll?.()),
    ]);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) {
      await Promise.allSettled(started.map((h) => h.close(0)));
      throw failed.reason;
    }

    // Group by listen address, open what is new, swap tables, close what is gone.
    const byAddress = new Map<string, ResolvedVhost[]>();
    for (const v of vhosts) {
      const k = listenKey(v.listen);
      byAddress.set(k, [...(byAddress.get(k) ?? []), v]);
    }
    const opened: Listener[] = [];
    const keep = new Map<string, Listener>();
    /** Old listeners closed early to free an ephemeral port for their replacement. */
    const closedEarly: Listener[] = [];
    try {
      for (const [k, group] of byAddress) {
        const existing = this.listeners.get(k);
        const tls = defaultTls(group);
        const defaultCert = tls ? certs.get(tlsKey(tls)) : undefined;
        if (existing && existing.secure === (tls !== undefined) && existing.defaultCert === (defaultCert ?? '')) {
          keep.set(k, existing);
          continue;
        }
        // A new address, or plain <-> TLS, or a new default certificate (which uWS cannot swap):
        // a new socket. On a fixed port uWS binds it beside the old one (SO_REUSEPORT) before
        // the old one closes; an ephemeral port cannot be shared, so there the old one closes first.
        const bindPort = existing && group[0].listen.port === 0 ? existing.port : undefined;
        const l = new Listener(group[0].listen, group, this.front.handle, { defaultCert, bindPort });
        try {
          await l.listen();
        } catch (err) {
          if (!existing) throw err;
          existing.close();
          closedEarly.push(existing);
          await l.listen();
        }
        opened.push(l);
        keep.set(k, l);
      }
    } catch (err) {
      for (const l of opened) l.close();
      for (const l of closedEarly) await l.listen().catch(() => this.errorLog.error('could not reopen a listener after a failed reload', { address: l.key }));
      await Promise.allSettled(started.map((h) => h.close(0)));
      throw err;
    }

    // The swap: synchronous from here on.
    for (const [k, group] of byAddress) {
      const l = keep.get(k)!;
      if (!opened.includes(l)) l.update(group); // TLS: re-register SNI names, re-reading certificates
      this.front.setTable(
        l.key,
        buildTable(group, (vhost, mount) => {
          return next.get(mountKey(vhost, mount))!.route;
        }),
      );
    }
    for (const [k, l] of this.listeners) {
      if (keep.get(k) !== l) {
        l.close();
        if (!keep.has(k)) {
          this.front.setTable(k, undefined);
          this.errorLog.info('stopped listening', { address: l.origin });
        }
      }
    }
    const retiredMounts = [...this.mounts].filter(([k, m]) => next.get(k)?.route.handler !== m.route.handler).map(([, m]) => m);
    for (const m of retiredMounts) m.unwatch?.();
    // Watchers start with the mount going live (not before: a failed reload must leave none behind).
    for (const m of next.values()) {
      if (m.unwatch || retiredMounts.includes(m)) continue;
      const mount = m.route.mount;
      if (mount.kind === 'app' && (mount.watch || mount.touchFile)) m.unwatch = this.watch(mount, m.route.handler);
    }
    this.listeners = keep;
    this.mounts = next;
    this.vhosts = vhosts;
    this.generation++;
    for (const l of opened) this.errorLog.info('listening', { address: l.origin });
    // Old handlers finish their in-flight requests in the background; close() waits for them.
    for (const m of retiredMounts) {
      const done: Promise<void> = m.route.handler
        .close(this.gracefulMs)
        .catch((err) => this.errorLog.error('retiring mount failed', { mount: m.route.mount.url || '/', err }))
        .finally(() => this.retiring.delete(done));
      this.retiring.add(done);
    }
  }

  private watch(mount: ResolvedApp, handler: MountHandler): () => void {
    return watchApp(mount, (reason) => {
      this.errorLog.info('code changed; rolling the pool', { mount: mount.url || '/', reason });
      handler.roll?.().catch((err) =>
        this.errorLog.error('rolling the pool failed; the old workers keep serving', { mount: mount.url || '/', err }),
      );
    });
  }

  /**
   * At startup an app that does not load is logged and its mount answers 503 (the other vhosts
   * still serve); on reload (`strict`) it fails the reload, so the running version stays.
   */
  private async createHandler(vhost: ResolvedVhost, mount: ResolvedMount, strict: boolean): Promise<MountHandler> {
    if (mount.kind === 'static') return createStaticMount(mount, { log: this.errorLog, cache: this.fileCache });
    const app = await createAppMount(mount, { log: this.errorLog, vhost });
    if (app.loadError) {
      if (strict) {
        await app.close(0);
        throw new HostdError(
          'HOSTD_APP_LOAD',
          `${vhost.file}: apps ${mount.url || '/'}: ${mount.module} failed to load: ${app.loadError.split('\n')[0]}`,
        );
      }
      this.errorLog.error('app failed to load; its mount answers 503', { mount: mount.url || '/', module: mount.module, error: app.loadError });
    }
    return app;
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'closed';
      await this.flushLogs();
      return;
    }
    this.state = 'closing';
    for (const l of this.listeners.values()) l.close();
    this.errorLog.info('draining', { inFlight: this.front.inFlight, timeoutMs: this.gracefulMs });
    const deadline = Date.now() + this.gracefulMs;
    await new Promise<void>((resolve) => {
      if (this.front.inFlight === 0) return resolve();
      const timer = setTimeout(resolve, this.gracefulMs);
      this.front.onIdle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.front.onIdle = undefined;
    const left = Math.max(0, deadline - Date.now());
    for (const m of this.mounts.values()) m.unwatch?.();
    await Promise.allSettled([...this.mounts.values()].map((m) => m.route.handler.close(left)));
    await Promise.allSettled([...this.retiring]);
    for (const k of this.listeners.keys()) this.front.setTable(k, undefined);
    this.listeners.clear();
    this.statusServer?.close();
    this.state = 'closed';
    this.errorLog.info('stopped');
    await this.flushLogs();
  }

  private async flushLogs(): Promise<void> {
    await this.front.accessLog?.close();
    await this.ownErrorLog?.close();
  }
}

/** Identifies a mount across configuration generations: its address, its vhost's names, its URL. */
function mountKey(vhost: ResolvedVhost, mount: ResolvedMount): string {
  return `${listenKey(vhost.listen)}|${vhost.serverNames.join(',')}|${mount.url}`;
}

/** Validates the configuration and prepares a host; call listen() to serve. */
export async function createHost(options: HostOptions = {}): Promise<Host> {
  const host = new Host(options);
  if (options.sites?.length) await host.check();
  return host;
}
