// Every default of the vhost file in one place. test/config-defaults.test.ts checks that the
// JSON Schema's `default`s say the same.
import { DEFAULT_LISTEN } from './listen.js';

export const DEFAULTS = Object.freeze({
  listen: DEFAULT_LISTEN,
  index: 'index.html',
  dotfiles: false,
  followSymlinks: false,
  precompressed: true,
  immutable: false,
  interface: 'auto' as const,
  maxBodySize: 100 * 1024 * 1024,
  watch: false,
  threads: 1,
  isolation: 'thread' as 'thread' | 'process',
  processes: 1,
  concurrency: 64,
  maxRequests: 0,
  maxRequestsJitter: 0,
  requestTimeoutMs: 60_000,
  queueSize: 1024,
  queueTimeoutMs: 30_000,
  idleTimeoutMs: 0,
  startTimeoutMs: 30_000,
  stripPrefix: true,
  bufferBody: 64 * 1024,
  bodyTimeoutMs: 30_000,
  maxUrlLength: 16 * 1024,
  websocket: Object.freeze({
    maxPayload: 1024 * 1024,
    idleTimeoutMs: 120_000,
    maxBackpressure: 1024 * 1024,
    maxPendingBytes: 4 * 1024 * 1024, // pendingDefault(maxPayload) for the default maxPayload
    compression: false,
    maxConnections: 10_000,
  }),
});

export const CACHE_DEFAULTS = Object.freeze({
  header: 'X-Cache',
  cookies: 'bypass' as const,
  lockTimeoutMs: 5000,
  /** maxObjectSize = maxSize / this, when not given. */
  objectFraction: 8,
});
