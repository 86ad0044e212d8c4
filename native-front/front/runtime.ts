// One front: its listeners, routing tables, static mounts and pool dispatchers, driven by the
// control thread's commands (front/messages.ts). Front 0 runs on the main thread, the others in
// worker threads (front/thread.ts); the code is the same, talking to the control thread over a
// MessagePort either way.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { MessagePort } from 'node:worker_threads';
import { Dispatcher } from '../../daemon/dispatch/dispatcher.js';
import type { PoolReporter } from '../../daemon/dispatch/types.js';
import { mountKey, sameProxyProtocol } from '../../shared/config/listen.js';
import { mountLabel, withFields, type Logger } from '../../shared/log.js';
import { AppMount } from '../apps/index.js';
import { AccessWriter } from '../log/access-log.js';
import type { MountHandler } from '../routing/mount.js';
import { MountStats } from './mount-stats.js';
import { createStaticMount, FileCache } from '../static/index.js';
import { TrustProxy } from '../http/trust-proxy.js';
import { WsFront, wsPayloadCeiling } from '../ws/front.js';
import { Listener } from './listener.js';
import type { FrontCommand, FrontEvent, FrontInit, FrontStats, ListenerPlan, MountPlan, PoolOpen } from './messages.js';
import { buildTable, Router, type MountRoute } from '../routing/router.js';

interface LiveMount {
  fingerprint: string;
  route: MountRoute;
  /** The pool an app mount dispatches to. */
  pool?: number;
}

interface Prepared {
  /** Keys of the kept app mounts whose pools roll (a reload of their site): their cached answers go. */
  rolled: Set<string>;
  listeners: ListenerPlan[];
  keep: Map<string, Listener>;
  opened: Listener[];
  closedEarly: Listener[];
  /** Listener keys routed before the commit (new addresses: see prepare), unrouted again on abort. */
  routedEarly: string[];
  mounts: Map<string, LiveMount>;
  created: MountHandler[];
}

const CLOCK_TICKS_PER_MS = 100 / 1000; // USER_HZ is 100 on Linux

/**
 * This thread's CPU time: /proc/thread-self is the calling thread's own entry, so the read must
 * be synchronous (an async read would run on, and measure, a libuv pool thread). It happens only
 * on a status read, never on the request path.
 */
function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_MS;
  } catch {
    return -1;
  }
}

/** Error fields as text: they cross a thread boundary. */
function cloneable(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!fields) return fields;
  const out: Record<string, unknown> = {};
  for (const k in fields) {
    const v = fields[k];
    out[k] = v instanceof Error ? (v.stack ?? v.message) : v;
  }
  return out;
}

export class FrontRuntime {
  private readonly router: Router;
  private readonly log: Logger;
  private readonly fileCache: FileCache;
  private readonly listeners = new Map<string, Listener>();
  private mounts = new Map<string, LiveMount>();
  private readonly stats = new Map<string, MountStats>();
  private readonly dispatchers = new Map<number, Dispatcher>();
  private readonly pumpRequested = new Set<number>();
  private prepared: Prepared | null = null;
  private acceptPaused = false;
  /** WebSockets on this front (native-front/ws): hooks below are marked "ws". */
  private readonly ws: WsFront;

  constructor(
    readonly init: FrontInit,
    private readonly port: MessagePort,
  ) {
    const send = (e: FrontEvent) => port.postMessage(e);
    this.log = {
      info: (msg, fields) => send({ t: 'log', level: 'info', msg, fields: cloneable(fields) }),
      warn: (msg, fields) => send({ t: 'log', level: 'warn', msg, fields: cloneable(fields) }),
      error: (msg, fields) => send({ t: 'log', level: 'error', msg, fields: cloneable(fields) }),
    };
    const access = init.accessLog === null ? null : new AccessWriter(init.accessLog, (text) => send({ t: 'access', text }));
    this.router = new Router(this.log, access, init.trustProxy.length ? new TrustProxy(init.trustProxy) : null);
    this.fileCache = new FileCache(init.fileCache);
    this.ws = new WsFront(this.router, this.log);
    port.on('message', (cmd: FrontCommand) => this.onCommand(cmd));
  }

  private send(e: FrontEvent): void {
    this.port.postMessage(e);
  }

  private reply(seq: number, extra: Omit<Extract<FrontEvent, { t: 'reply' }>, 't' | 'seq'> = {}): void {
    this.send({ t: 'reply', seq, ...extra });
  }

  private onCommand(cmd: FrontCommand): void {
    switch (cmd.t) {
      case 'prepare':
        this.prepare(cmd.listeners, cmd.mounts).then(
          (ports) => this.reply(cmd.seq, { ports }),
          (err: Error) => this.reply(cmd.seq, { error: err.message }),
        );
        return;
      case 'commit':
        this.commit();
        return this.reply(cmd.seq);
      case 'abort':
        this.abort();
        return this.reply(cmd.seq);
      case 'poolOpen':
        return this.openPool(cmd.open);
      case 'attach':
        return this.dispatchers.get(cmd.pool)?.attach(cmd.worker);
      case 'detach':
        return this.dispatchers.get(cmd.pool)?.detach(cmd.key, this.init.index, cmd.reason);
      case 'loadState': {
        const d = this.dispatchers.get(cmd.pool);
        if (d) {
          d.loadError = cmd.loadError;
          if (cmd.loadError) d.failQueue(503, 'the app failed to load');
        }
        return;
      }
      case 'unavailable':
        return this.dispatchers.get(cmd.pool)?.failQueue(503, 'no daemon worker available');
      case 'pump':
        return this.dispatchers.get(cmd.pool)?.pump();
      case 'poolClose': {
        const d = this.dispatchers.get(cmd.pool);
        void (d ? d.close(cmd.deadlineMs) : Promise.resolve()).then(() => this.reply(cmd.seq));
        return;
      }
      case 'poolDispose':
        this.dispatchers.get(cmd.pool)?.dispose();
        this.dispatchers.delete(cmd.pool);
        this.ws.disposePool(cmd.pool); // ws
        return;
      case 'drain':
        this.router.draining = true;
        for (const l of this.listeners.values()) l.close();
        return;
      case 'cut':
        for (const m of this.mounts.values()) {
          m.route.handler.cut?.();
          void m.route.handler.close(0);
        }
        this.ws.cutAll(); // ws
        return;
      case 'wsClose': // ws: shutdown, after the drain
        this.ws.closeAll();
        return this.reply(cmd.seq, { wsOpen: this.ws.open });
      case 'accept':
        return this.pauseAccepting(cmd.paused);
      case 'stats':
        this.router.accessLog?.handOver();
        return this.reply(cmd.seq, { stats: this.collectStats() });
      case 'rolled':
        // New code (watch / touchFile): what the old code answered may have changed.
        for (const m of this.mounts.values()) if (m.pool === cmd.pool) m.route.handler.reloaded?.();
        return;
      case 'purge': {
        let purged = 0;
        for (const m of this.mounts.values()) purged += m.route.handler.purge?.(cmd) ?? 0;
        return this.reply(cmd.seq, { purged });
      }
    }
  }

  // ---------------------------------------------------------------- reload: prepare, commit, abort

  /** Builds handlers for new mounts and opens new listeners; the running configuration is untouched. */
  private async prepare(listeners: ListenerPlan[], mounts: MountPlan[]): Promise<Record<string, number>> {
    if (this.prepared) this.abort();
    const rolled = new Set(mounts.flatMap((m) => (m.rolled ? [m.key] : [])));
    const p: Prepared = {
      rolled,
      listeners,
      keep: new Map(),
      opened: [],
      closedEarly: [],
      mounts: new Map(),
      routedEarly: [],
      created: [],
    };
    this.prepared = p;
    for (const plan of mounts) p.mounts.set(plan.key, this.mountFor(plan, p));
    const ports: Record<string, number> = {};
    for (const plan of listeners) {
      // A PROXY-protocol listener's gateway owns its port alone (node:net has no SO_REUSEPORT):
      // front 0 serves it, the other fronts route nothing there.
      if (plan.address.proxyProtocol && this.init.index !== 0) continue;
      const existing = this.listeners.get(plan.key);
      if (
        existing &&
        existing.secure === plan.vhosts.some((v) => v.tls) &&
        existing.defaultCert === plan.defaultCert &&
        sameProxyProtocol(existing.address, plan.address) &&
        existing.wsPayloadCeiling >= wsPayloadCeiling(plan.vhosts) // ws: uWS's read limit is fixed per App
      ) {
        p.keep.set(plan.key, existing);
        ports[plan.key] = existing.port;
        continue;
      }
      // A new address, or plain <-> TLS, or a new default certificate (which uWS cannot swap):
      // a new socket. On a fixed port uWS binds it beside the old one (SO_REUSEPORT) before the
      // old one closes; an ephemeral port cannot be shared, so there the old one closes first.
      const bindPort = plan.bindPort ?? (existing && plan.address.port === 0 ? existing.port : undefined);
      const l = new Listener(plan.address, plan.vhosts, this.router.handle, {
        defaultCert: plan.defaultCert,
        bindPort,
        ws: this.ws,
        trustProxy: this.init.trustProxy,
        log: this.log,
      });
      // A new address accepts the moment it is bound: route it now, or its first requests (until
      // the commit, after every listener of every front is bound) would find no virtual host. An
      // address already routed keeps the running table until the commit.
      if (!this.router.hasTable(plan.key)) {
        this.router.setTable(plan.key, this.tableFor(plan, p, plan.bindPort ?? plan.address.port));
        p.routedEarly.push(plan.key);
      }
      try {
        await l.listen();
      } catch (err) {
        if (!existing) throw err;
        existing.close();
        p.closedEarly.push(existing);
        await l.listen();
      }
      p.opened.push(l);
      p.keep.set(plan.key, l);
      ports[plan.key] = l.port;
    }
    return ports;
  }

  /** The routing table of a listener in the prepared configuration. */
  private tableFor(plan: ListenerPlan, p: Prepared, port: number): ReturnType<typeof buildTable> {
    return buildTable(plan.vhosts, (vhost, mount) => p.mounts.get(mountKey(vhost, mount.url))!.route, port);
  }

  private mountFor(plan: MountPlan, p: Prepared): LiveMount {
    const live = this.mounts.get(plan.key);
    // Same handler and counters; the route carries the new (equal) mount object.
    if (live && live.fingerprint === plan.fingerprint) return { ...live, route: { ...live.route, mount: plan.mount } };
    let stats = this.stats.get(plan.key);
    if (!stats) this.stats.set(plan.key, (stats = new MountStats(plan.vhostName, mountLabel(plan.mount.url), plan.mount.kind)));
    const log = withFields(this.log, { site: plan.site, mount: mountLabel(plan.mount.url), vhost: plan.vhostName });
    let handler: MountHandler;
    if (plan.mount.kind === 'static') handler = createStaticMount(plan.mount, { log, cache: this.fileCache });
    else {
      const d = this.dispatchers.get(plan.pool!);
      if (!d) throw new Error(`front ${this.init.index}: no dispatcher for pool ${plan.pool}`);
      handler = new AppMount(plan.mount, plan.fallbackHost, d, log);
      this.ws.bindMount(plan.key, plan.pool!); // ws: the mount's topic scope and counters
    }
    p.created.push(handler);
    return { fingerprint: plan.fingerprint, route: { key: plan.key, mount: plan.mount, handler, stats }, pool: plan.pool };
  }

  /** The swap: synchronous, so no request sees half of two configurations. */
  private commit(): void {
    const p = this.prepared;
    if (!p) return;
    this.prepared = null;
    for (const plan of p.listeners) {
      const l = p.keep.get(plan.key);
      if (l === undefined) continue; // a PROXY-protocol listener on a front other than 0
      if (!p.opened.includes(l)) l.update(plan.vhosts); // TLS: re-register SNI names, re-reading certificates
      this.router.setTable(plan.key, this.tableFor(plan, p, l.port));
    }
    for (const [k, l] of this.listeners) {
      if (p.keep.get(k) !== l) {
        l.close();
        if (!p.keep.has(k)) this.router.setTable(k, undefined);
      }
    }
    this.listeners.clear();
    for (const [k, l] of p.keep) this.listeners.set(k, l);
    if (this.acceptPaused) for (const l of this.listeners.values()) l.close();
    // Old handlers finish their in-flight requests in the background; kept ones hear of a roll.
    for (const [k, m] of this.mounts) {
      if (p.mounts.get(k)?.route.handler !== m.route.handler) void m.route.handler.close(this.init.gracefulMs);
      else if (p.rolled.has(k)) m.route.handler.reloaded?.();
    }
    for (const k of this.stats.keys()) if (!p.mounts.has(k)) this.stats.delete(k);
    this.ws.keepMounts(new Set(p.mounts.keys())); // ws
    this.mounts = p.mounts;
  }

  private abort(): void {
    const p = this.prepared;
    if (!p) return;
    this.prepared = null;
    for (const l of p.opened) l.close();
    for (const k of p.routedEarly) this.router.setTable(k, undefined);
    for (const l of p.closedEarly)
      void l.listen().catch(() => this.log.error('could not reopen a listener after a failed reload', { address: l.key }));
    for (const h of p.created) void h.close(0);
  }

  // ---------------------------------------------------------------- pools

  private openPool(open: PoolOpen): void {
    const log = withFields(this.log, { site: open.site, mount: mountLabel(open.mountUrl), vhost: open.vhostName });
    const pool = open.pool;
    const report: PoolReporter = {
      retire: (key) => this.send({ t: 'retire', pool, key }),
      kill: (key) => this.send({ t: 'kill', pool, key }),
      drained: (key) => this.send({ t: 'drained', pool, key }),
      pumpOthers: () => {
        // At most one relay per pool per turn.
        if (this.pumpRequested.has(pool)) return;
        this.pumpRequested.add(pool);
        setImmediate(() => {
          this.pumpRequested.delete(pool);
          this.send({ t: 'pumpOthers', pool });
        });
      },
    };
    const d = new Dispatcher(open.cfg, open.queued, log, report);
    this.ws.openPool(open, d); // ws: before any worker attaches
    this.dispatchers.set(pool, d);
  }

  // ---------------------------------------------------------------- operations

  /** Out of file descriptors: stop accepting (the kernel refuses new connections) until there are some again. */
  private pauseAccepting(paused: boolean): void {
    if (paused === this.acceptPaused) return;
    this.acceptPaused = paused;
    for (const l of this.listeners.values()) {
      if (paused) l.close();
      else if (!this.router.draining)
        void l.resume().catch((err: Error) => this.log.error('could not resume accepting', { address: l.key, error: err.message }));
    }
  }

  private collectStats(): FrontStats {
    return {
      index: this.init.index,
      activeMs: performance.eventLoopUtilization().active,
      cpuMs: threadCpuMs(),
      inFlight: this.router.inFlight,
      unrouted: this.router.unrouted,
      mounts: [...this.stats.entries()].map(([key, s]) => ({
        key,
        byClass: s.byClass,
        buckets: s.buckets,
        latencySum: s.latencySum,
        count: s.count,
        bytes: s.bytes,
        cache: this.mounts.get(key)?.route.handler.cacheStats?.() ?? null,
      })),
      pools: [...this.dispatchers.entries()].map(([pool, d]) => ({ pool, ...d.stats() })),
      cache: this.fileCache.stats(),
      websockets: this.ws.stats(),
    };
  }
}
