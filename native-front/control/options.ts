// The options of createHost() (the CLI's flags map onto them), and their checks: a wrong value is
// a usage error before anything starts.
import { availableParallelism } from 'node:os';
import { parseDuration, parseSize } from '../../shared/config/index.js';
import type { Duration, VhostConfig } from '../../shared/config/types.js';
import { HostdError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { LogFormat } from '../log/access-log.js';
import { TrustProxy } from '../http/trust-proxy.js';
import { parseStatusAddress } from './status-server.js';
import { resolveRunAs, type RunAs } from './privileges.js';

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
  /** Error log: a file or "-" for stderr (the default), or a Logger object. */
  errorLog?: string | Logger;
  /** CIDRs of proxies whose X-Forwarded-For / X-Forwarded-Proto are believed. */
  trustProxy?: string | string[];
  /** How long close() lets in-flight requests finish; default 30s. */
  gracefulTimeout?: Duration;
  /** HOST:PORT or a Unix socket path of the internal /metrics, /status, /healthz listener (the CLI's --status). */
  status?: string;
  /** A file holding the bearer token the status listener requires (the CLI's --status-token-file). */
  statusTokenFile?: string;
  /**
   * `status` is the CLI's default socket (runtime-dir.ts): its folder is created 0700, the socket
   * is 0600, and when a live hostd already serves there hostd logs a warning and runs without a
   * status listener instead of failing.
   */
  statusDefault?: boolean;
  /** Front threads (the CLI's --fronts); default 1. */
  fronts?: number;
  /** Static file memory cache bounds (bytes, per front). */
  fileCache?: { maxBytes?: number; maxFileBytes?: number };
  /**
   * A ceiling on the process's resident memory (bytes, or "2g", "1536m"; the CLI's --max-memory):
   * over it, hostd replaces the largest worker of the pool using the most memory. Default none.
   */
  maxMemory?: number | string;
  /**
   * `NAME` or `NAME:GROUP` (names or numbers; the CLI's --user): hostd, started as root, binds its
   * listeners, opens its logs and status socket, then drops to this user (privileges.ts) before
   * any app loads. Not root: a usage error.
   */
  user?: string;
}

/** HostOptions checked, with the defaults filled in. */
export interface HostSettings {
  gracefulMs: number;
  fronts: number;
  trustProxy: string[];
  /** --max-memory in bytes; undefined: no ceiling. */
  maxMemory: number | undefined;
  /** --user, resolved; undefined: hostd stays as started. */
  runAs: RunAs | undefined;
}

/** Checks `options`; throws a HOSTD_USAGE error naming the first wrong one. */
export function settle(options: HostOptions): HostSettings {
  const t = options.trustProxy;
  const trustProxy = (typeof t === 'string' ? t.split(',') : (t ?? [])).map((s) => s.trim()).filter(Boolean);
  if (trustProxy.length) new TrustProxy(trustProxy); // throws on what is not an address or CIDR
  const gracefulMs = options.gracefulTimeout === undefined ? 30_000 : parseDuration(options.gracefulTimeout);
  if (gracefulMs === undefined)
    throw new HostdError('HOSTD_USAGE', `gracefulTimeout: "${options.gracefulTimeout}" is not a duration (use 500ms, 30s, 2m)`);
  const fronts = options.fronts ?? defaultFronts();
  const most = Math.max(64, availableParallelism() * 4);
  if (!Number.isInteger(fronts) || fronts < 1 || fronts > most)
    throw new HostdError('HOSTD_USAGE', `fronts: ${fronts} is not a number of front threads (1 to ${most})`);
  if (options.status) parseStatusAddress(options.status);
  let maxMemory: number | undefined;
  if (options.maxMemory !== undefined) {
    maxMemory = parseSize(options.maxMemory);
    if (maxMemory === undefined || maxMemory < 64 * 1024 * 1024)
      throw new HostdError('HOSTD_USAGE', `maxMemory: "${options.maxMemory}" is not a size of at least 64m (use 2g, 1536m)`);
  }
  const runAs = options.user === undefined ? undefined : resolveRunAs(options.user);
  return { gracefulMs, fronts, trustProxy, maxMemory, runAs };
}

/**
 * Front threads when none are asked for: a quarter of the cores, at least one (2 cores: 1; 8: 2;
 * 32: 8). Measured here, a front spends 6-10 µs of its core per request against 4 µs (a hello
 * handler) to milliseconds (real pages) in the app's workers; the workers, the kernel's network
 * work and the OS need the other cores. docs/performance.md has the figures.
 */
export function defaultFronts(): number {
  return Math.max(1, Math.floor(availableParallelism() / 4));
}
