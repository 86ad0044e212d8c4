// Making a configuration the running one, in named steps. Order matters for a reload that drops
// nothing: everything that can fail (certificates, new pools loading their app, rolled pools, new
// sockets) happens first while the old configuration keeps serving; then every front swaps its
// routing tables in one synchronous step; then what is gone retires in the background, finishing
// its in-flight requests. On a failure before the swap, whatever was started is stopped and the
// old configuration stays in place untouched.
import { createServer } from 'node:net';
import type { DaemonPool } from '../../daemon/pool/pool.js';
import { formatListen, mountKey } from '../../shared/config/listen.js';
import type { ListenAddress, ResolvedApp, ResolvedVhost } from '../../shared/config/types.js';
import { HostdError } from '../../shared/errors.js';
import { mountLabel, type Logger } from '../../shared/log.js';
import { fallbackHost } from '../apps/index.js';
import { defaultTls } from '../front/listener.js';
import type { ListenerPlan, MountPlan } from '../front/messages.js';
import type { FrontSet } from './fronts.js';
import { tlsKey, validateTls } from './tls.js';

export interface LivePool {
  fingerprint: string;
  pool: DaemonPool;
  vhostName: string;
  /** The site (vhost.name) the pool's mount belongs to. */
  site: string;
  /** Stops the watch/touchFile watcher of the mount. */
  unwatch?: () => void;
}

export interface BoundListener {
  address: ListenAddress;
  port: number;
  secure: boolean;
}

/** The running configuration, as the control thread keeps it. */
export interface Live {
  vhosts: ResolvedVhost[];
  listeners: Map<string, BoundListener>;
  pools: Map<string, LivePool>;
  generation: number;
}

export interface ApplyEnv {
  fronts: FrontSet;
  log: Logger;
  gracefulMs: number;
  newPool(mount: ResolvedApp, vhost: ResolvedVhost): DaemonPool;
  watch(mount: ResolvedApp, pool: DaemonPool): (() => void) | undefined;
  /** Rejects when the host starts closing: a reload waiting for apps to load gives up. */
  cancelled: Promise<never>;
  /** Pools retired by this apply, still finishing their requests. */
  retiring: Set<Promise<void>>;
  /**
   * New pools start their workers once this settles: at startup with --user, after the drop
   * (privileges.ts), so that no app code ever runs as root. Otherwise already settled.
   */
  poolsMayStart: Promise<void>;
}

export interface ApplyOptions {
  /** Reload: a pool that fails to load fails the whole apply. At startup it answers 503 instead. */
  strict: boolean;
  /**
   * Reload: which unchanged pools roll their workers (fresh code), by site name and mount URL:
   * all (SIGHUP), none, or one site's, or one mount's (POST /reload?site=NAME&mount=/x).
   */
  roll: (site: string, mountUrl: string) => boolean;
}

export const ROLL_NONE = () => false;
export const ROLL_ALL = () => true;

/**
 * A strict apply where apps did not load in fresh workers (new pools, or rolled ones, which keep
 * their current workers): every failed site, so a SIGHUP can keep those at their previous
 * configuration and apply the rest. The message is the first failure's.
 */
export class SiteLoadErrors extends HostdError {
  constructor(readonly failures: ReadonlyArray<{ site: string; error: Error }>) {
    super('HOSTD_APP_LOAD', failures[0].error.message, { cause: failures[0].error });
  }
}

interface Plan {
  vhosts: ResolvedVhost[];
  pools: Map<string, LivePool>;
  created: LivePool[];
  rolled: LivePool[];
  retired: LivePool[];
  mounts: MountPlan[];
  listeners: ListenerPlan[];
}

/** Step 1: what stays, what is new, what goes. */
function plan(env: ApplyEnv, live: Live, vhosts: ResolvedVhost[], opts: ApplyOptions): Plan {
  const p: Plan = { vhosts, pools: new Map(), created: [], rolled: [], retired: [], mounts: [], listeners: [] };
  for (const vhost of vhosts) {
    const vhostName = vhost.serverNames[0] ?? '*';
    const site = vhost.name;
    for (const mount of vhost.mounts) {
      const key = mountKey(vhost, mount.url);
      const fingerprint = JSON.stringify(mount);
      const m: MountPlan = { key, fingerprint, vhostName, site, mount, fallbackHost: fallbackHost(vhost) };
      p.mounts.push(m);
      if (mount.kind !== 'app' || p.pools.has(key)) continue;
      let lp = live.pools.get(key);
      if (lp && lp.fingerprint === fingerprint) {
        lp.site = site; // a rename (name:) keeps the pool
        if (opts.roll(site, mount.url)) {
          p.rolled.push(lp);
          m.rolled = true;
        }
      } else {
        lp = { fingerprint, vhostName, site, pool: env.newPool(mount, vhost) };
        p.created.push(lp);
      }
      p.pools.set(key, lp);
      m.pool = lp.pool.id;
    }
  }
  for (const [key, lp] of live.pools) if (p.pools.get(key) !== lp) p.retired.push(lp);
  return p;
}

/** Step 2: certificates, new pools (their dispatchers open on every front first), rolls. */
async function start(env: ApplyEnv, p: Plan, opts: ApplyOptions): Promise<void> {
  const certs = await validateTls(p.vhosts);
  const byAddress = new Map<string, ResolvedVhost[]>();
  for (const v of p.vhosts) {
    const k = formatListen(v.listen);
    byAddress.set(k, [...(byAddress.get(k) ?? []), v]);
  }
  for (const [key, group] of byAddress) {
    const tls = defaultTls(group);
    p.listeners.push({ key, address: group[0].listen, vhosts: group, defaultCert: tls ? (certs.get(tlsKey(tls)) ?? '') : '' });
  }
  for (const lp of p.created) {
    const pool = lp.pool;
    env.fronts.broadcast({
      t: 'poolOpen',
      open: {
        pool: pool.id,
        cfg: pool.cfg.pool,
        mountUrl: pool.cfg.url,
        vhostName: lp.vhostName,
        site: lp.site,
        queued: pool.queued,
        sockets: pool.sockets,
      },
    });
  }
  const starting = p.created.map((lp) =>
    env.poolsMayStart
      .then(() => lp.pool.start())
      .then((err) => {
        if (!err || (lp.pool.closing && !opts.strict)) return; // stopped while loading (a failed start-up): not the app's fault
        if (opts.strict)
          throw new HostdError(
            'HOSTD_APP_LOAD',
            `apps ${mountLabel(lp.pool.cfg.url)}: ${lp.pool.cfg.module} failed to load: ${err.split('\n')[0]}`,
          );
        env.log.error('app failed to load; its mount answers 503', {
          site: lp.site,
          mount: mountLabel(lp.pool.cfg.url),
          vhost: lp.vhostName,
          module: lp.pool.cfg.module,
          error: err,
        });
      }),
  );
  // At startup nothing waits for apps to load: other vhosts and the status listener serve at once,
  // and requests for a loading app wait in its queue. A reload waits, to fail whole if one fails.
  if (!opts.strict) {
    for (const s of starting) s.catch(() => undefined);
    return;
  }
  const sites = [...p.created, ...p.rolled].map((lp) => lp.site);
  const outcomes = await Promise.race([Promise.allSettled([...starting, ...p.rolled.map((lp) => lp.pool.roll())]), env.cancelled]);
  const failures = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{ site: sites[i], error: o.reason as Error }] : []));
  if (failures.length) throw new SiteLoadErrors(failures);
}

/** Fails with a clear message when another process already listens on a new address. */
function probeFree(a: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(new HostdError('HOSTD_ADDRESS_IN_USE', `cannot listen on ${formatListen(a)}: another process already listens there`));
      else resolve(); // EADDRNOTAVAIL and the like: uWS's own bind reports them
    });
    srv.listen({ host: a.host, port: a.port, exclusive: true }, () => srv.close(() => resolve()));
  });
}

/** A port free now on `host` (for an ephemeral listen address shared by several fronts). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Step 3: every front builds its new handlers and opens new sockets, each bound with
 * SO_REUSEPORT. uWS does not set SO_REUSEPORT on a socket bound to port 0, so with several
 * fronts an ephemeral address gets a free port chosen here that all of them bind.
 */
async function bind(env: ApplyEnv, live: Live, p: Plan): Promise<Record<string, number>> {
  const { fronts } = env;
  for (const l of p.listeners) {
    const held = live.listeners.get(l.key);
    if (l.address.port !== 0) {
      if (!held) await probeFree(l.address);
    } else if (held) l.bindPort = held.port;
    else if (fronts.count > 1) l.bindPort = await freePort(l.address.host);
  }
  try {
    const replies = await fronts.requestAll({ t: 'prepare', listeners: p.listeners, mounts: p.mounts });
    return replies[0].ports ?? {};
  } catch (err) {
    await fronts.requestAll({ t: 'abort' });
    throw err instanceof HostdError ? err : new HostdError('HOSTD_LISTEN', (err as Error).message);
  }
}

/** Step 4: the swap, on every front; then the control thread's own books. */
async function swap(env: ApplyEnv, live: Live, p: Plan, ports: Record<string, number>): Promise<void> {
  await env.fronts.requestAll({ t: 'commit' });
  const listeners = new Map<string, BoundListener>();
  for (const l of p.listeners) {
    listeners.set(l.key, { address: l.address, port: ports[l.key], secure: l.vhosts.some((v) => v.tls) });
    if (!live.listeners.has(l.key)) env.log.info('listening', { address: origin(listeners.get(l.key)!) });
  }
  for (const [k, l] of live.listeners) if (!listeners.has(k)) env.log.info('stopped listening', { address: origin(l) });
  for (const lp of p.retired) lp.unwatch?.();
  // Watchers start with the mount going live (not before: a failed reload must leave none behind).
  for (const lp of p.created) lp.unwatch = env.watch(lp.pool.cfg, lp.pool);
  live.listeners = listeners;
  live.pools = p.pools;
  live.vhosts = p.vhosts;
  live.generation++;
}

/** Step 5: retired pools finish their requests in the background; close() waits for them. */
function retire(env: ApplyEnv, p: Plan): void {
  for (const lp of p.retired) {
    const done: Promise<void> = lp.pool
      .close(env.gracefulMs)
      .catch((err) => lp.pool.log.error('retiring mount failed', { err }))
      .finally(() => {
        env.fronts.broadcast({ t: 'poolDispose', pool: lp.pool.id });
        env.retiring.delete(done);
      });
    env.retiring.add(done);
  }
}

/** Stops pools an apply started before it failed. */
async function undo(env: ApplyEnv, p: Plan): Promise<void> {
  await Promise.allSettled(
    p.created.map((lp) => lp.pool.close(0).finally(() => env.fronts.broadcast({ t: 'poolDispose', pool: lp.pool.id }))),
  );
}

export function origin(l: BoundListener): string {
  const host = l.address.host.includes(':') ? `[${l.address.host}]` : l.address.host;
  return `${l.secure ? 'https' : 'http'}://${host}:${l.port}`;
}

export async function apply(env: ApplyEnv, live: Live, vhosts: ResolvedVhost[], opts: ApplyOptions): Promise<void> {
  const p = plan(env, live, vhosts, opts);
  try {
    await start(env, p, opts);
    const ports = await bind(env, live, p);
    await swap(env, live, p, ports);
  } catch (err) {
    await undo(env, p);
    throw err;
  }
  retire(env, p);
}
