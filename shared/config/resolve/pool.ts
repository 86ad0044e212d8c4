// `pool:` and `websocket:` of an app mount.
import type { ConfigPath } from '../source.js';
import type { ResolvedPool, ResolvedWebSocket } from '../types.js';
import { DEFAULTS } from '../defaults.js';
import { appCwd, readEnvFile } from './app-root.js';
import { droppingTo, lookupGroup, lookupUser } from './accounts.js';
import { formatSize } from '../duration.js';
import { bool, type Ctx, duration, isObject, size } from './context.js';

/** `module`: the app's absolute path (its folder finds the app root); unset when it was wrong. */
export function resolvePool(v: unknown, p: ConfigPath, ctx: Ctx, module: string | undefined): ResolvedPool | undefined {
  if (v !== undefined && !isObject(v)) return undefined; // the schema said why
  const o: Record<string, unknown> = v ?? {};
  const int = (k: string, def: number) => (typeof o[k] === 'number' && Number.isInteger(o[k]) ? (o[k] as number) : def);
  const threads = int('threads', DEFAULTS.threads);
  const minThreads = int('minThreads', threads);
  if (minThreads > threads && typeof o.threads === 'number') {
    ctx.problems.add([...p, 'minThreads'], `${minThreads} is more than threads (${threads})`);
  } else if (minThreads > threads) {
    ctx.problems.add([...p, 'minThreads'], `${minThreads} is more than threads (default ${threads}); raise threads too`);
  }
  const requestTimeoutMs = duration(o.requestTimeout, [...p, 'requestTimeout'], DEFAULTS.requestTimeoutMs, ctx, false);
  const queueTimeoutMs = duration(o.queueTimeout, [...p, 'queueTimeout'], DEFAULTS.queueTimeoutMs, ctx, false);
  const idleTimeoutMs = duration(o.idleTimeout, [...p, 'idleTimeout'], DEFAULTS.idleTimeoutMs, ctx, true);
  const startTimeoutMs = duration(o.startTimeout, [...p, 'startTimeout'], DEFAULTS.startTimeoutMs, ctx, false);
  // Without a module or a usable cwd the mount is already reported; the env file would only add noise.
  const cwd = module ? appCwd(o.cwd, module, [...p, 'cwd'], ctx) : undefined;
  // The file first, the pool's own env over it (as `node --env-file` leaves set variables alone).
  const fromFile =
    cwd !== undefined && typeof o.envFile === 'string' && o.envFile !== ''
      ? readEnvFile(o.envFile, cwd, [...p, 'envFile'], ctx)
      : undefined;
  const env: Record<string, string> = { ...fromFile?.vars };
  if (isObject(o.env)) {
    for (const [k, val] of Object.entries(o.env)) {
      if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') env[k] = String(val);
    }
  }
  const passEnv = Array.isArray(o.passEnv) ? [...new Set(o.passEnv.filter((n): n is string => typeof n === 'string'))] : [];
  const pool: ResolvedPool = {
    threads,
    minThreads,
    concurrency: int('concurrency', DEFAULTS.concurrency),
    maxRequests: int('maxRequests', DEFAULTS.maxRequests),
    maxRequestsJitter: int('maxRequestsJitter', DEFAULTS.maxRequestsJitter),
    requestTimeoutMs,
    queueSize: int('queueSize', DEFAULTS.queueSize),
    queueTimeoutMs,
    idleTimeoutMs,
    startTimeoutMs,
    env,
    cwd: cwd ?? ctx.baseDir, // (only when the mount is already wrong)
    isolation: o.isolation === 'process' ? 'process' : DEFAULTS.isolation,
    processes: int('processes', DEFAULTS.processes),
  };
  if (fromFile) pool.envFile = fromFile.file;
  resolveAccounts(o, p, ctx, pool);
  if (passEnv.length) pool.passEnv = passEnv;
  if (isObject(o.sticky)) {
    const { cookie, query } = o.sticky;
    const sticky: { cookie?: string; query?: string } = {};
    if (typeof cookie === 'string') sticky.cookie = cookie;
    if (typeof query === 'string') sticky.query = query;
    if (sticky.cookie !== undefined || sticky.query !== undefined) pool.sticky = sticky;
  }
  if (typeof o.memoryLimitMb === 'number' && Number.isInteger(o.memoryLimitMb)) pool.memoryLimitMb = o.memoryLimitMb;
  return pool;
}

/**
 * `user` and `group`: only for process pools, only when hostd runs as root (switching to another
 * uid needs it), and only names the system knows.
 */
function resolveAccounts(o: Record<string, unknown>, p: ConfigPath, ctx: Ctx, pool: ResolvedPool): void {
  for (const key of ['user', 'group'] as const) {
    const v = o[key];
    if (typeof v !== 'string' && typeof v !== 'number') continue; // absent, or the schema said why
    const name = String(v);
    if (pool.isolation !== 'process') {
      ctx.problems.add([...p, key], "needs isolation: process (worker threads run as hostd's own user)");
      continue;
    }
    // Before the uid test: after the drop hostd is not root either, and this says why.
    const dropTo = droppingTo();
    if (dropTo !== undefined) {
      ctx.problems.add(
        [...p, key],
        `hostd drops from root to user "${dropTo}" after binding (--user), so it cannot start processes as another ${key}; remove the key (the pool then runs as "${dropTo}") or run hostd without --user`,
      );
      continue;
    }
    if (process.getuid?.() !== 0) {
      ctx.problems.add(
        [...p, key],
        `hostd is not running as root, so it cannot start processes as another ${key}; run hostd as root (it drops to ${key} "${name}" for this pool only) or remove the key`,
      );
      continue;
    }
    if (key === 'user') {
      const u = lookupUser(name);
      if (u === undefined) ctx.problems.add([...p, key], `no such user "${name}" (not in /etc/passwd)`);
      else pool.user = u;
    } else {
      const g = lookupGroup(name);
      if (g === undefined) ctx.problems.add([...p, key], `no such group "${name}" (not in /etc/group)`);
      else pool.group = g;
    }
  }
}

/**
 * websocket.maxPendingBytes when not set: room for four messages of maxPayload (a client that
 * sends a few at once is not closed), at least 1 MiB.
 */
export function pendingDefault(maxPayload: number): number {
  return Math.max(1024 * 1024, 4 * maxPayload);
}

/** `websocket:` on an app mount; every key has a default for public sites (DEFAULTS.websocket). */
export function resolveWebSocket(v: unknown, p: ConfigPath, ctx: Ctx): ResolvedWebSocket {
  const d = DEFAULTS.websocket;
  if (!isObject(v)) return { ...d }; // absent, or the schema said why
  const payload = size(v.maxPayload, [...p, 'maxPayload'], d.maxPayload, ctx);
  if (payload === 0) ctx.problems.add([...p, 'maxPayload'], 'must be above 0');
  const maxPayload = payload || d.maxPayload;
  const maxPendingBytes = size(v.maxPendingBytes, [...p, 'maxPendingBytes'], pendingDefault(maxPayload), ctx);
  // Below one whole message every client that sends a full-size message would be closed.
  if (maxPendingBytes < maxPayload) {
    const why = `${formatSize(maxPendingBytes)} is less than maxPayload (${formatSize(maxPayload)}): a whole message must fit`;
    ctx.problems.add([...p, 'maxPendingBytes'], why);
  }
  return {
    maxPayload,
    idleTimeoutMs: duration(v.idleTimeout, [...p, 'idleTimeout'], d.idleTimeoutMs, ctx, true),
    maxBackpressure: size(v.maxBackpressure, [...p, 'maxBackpressure'], d.maxBackpressure, ctx),
    maxPendingBytes,
    compression: bool(v.compression, d.compression),
    maxConnections: typeof v.maxConnections === 'number' && Number.isInteger(v.maxConnections) ? v.maxConnections : d.maxConnections,
  };
}
