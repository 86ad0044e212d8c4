// The vhost file as users write it (README "A virtual host file"), and the resolved form the
// rest of hostd runs on: durations in milliseconds, paths absolute, listen split into host/port.

export type Duration = string | number; // "30s", "500ms", "2m", "1h", or milliseconds

export interface StaticMountConfig {
  url: string;
  dir: string;
  maxAge?: number; // seconds, Cache-Control max-age
  immutable?: boolean;
  index?: string | false; // file served for a directory URL; default "index.html"
  dotfiles?: boolean; // serve dotfiles and dot-directories; default false (404)
  followSymlinks?: boolean; // follow symlinks that resolve outside dir; default false (404)
  precompressed?: boolean; // serve .br/.gz siblings; default true
  compression?: boolean | CompressionConfig; // on-the-fly gzip/brotli; default on for text types
}

/** Compression of responses by the front (static files and app responses). */
export interface CompressionConfig {
  enabled?: boolean; // default true
  minSize?: number | string; // bytes or "1k"; smaller bodies go uncompressed; default 1 KiB
  types?: string[]; // MIME types ("text/html", "application/*") to compress; default: the compressible database
  level?: { gzip?: number; br?: number }; // gzip 1-9 (default 6), brotli quality 0-11 (default 5)
}

/** The front's response cache for an app mount (RFC 9111 shared-cache semantics). */
export interface CacheConfig {
  maxSize: number | string; // bytes held by the mount's entries (LRU beyond)
  maxObjectSize?: number | string; // largest body stored; default maxSize / 8
  header?: string | false; // X-Cache: HIT|MISS|STALE header name; false = none; default "X-Cache"
  cookies?: 'bypass' | 'ignore'; // requests with Cookie: not cached (default) or cached like others
  lockTimeout?: Duration; // a request waiting for another's fetch of the same URL gives up and fetches itself after this; default 5s
}

export interface PoolConfig {
  threads?: number;
  concurrency?: number; // requests in flight per worker (async apps); default 64
  maxRequests?: number; // 0 = never recycle
  maxRequestsJitter?: number;
  requestTimeout?: Duration;
  queueSize?: number;
  queueTimeout?: Duration;
  memoryLimitMb?: number;
  idleTimeout?: Duration; // reap idle workers above minThreads; 0 = never
  minThreads?: number;
  env?: Record<string, string>;
  /** A dotenv file (relative to the app root) loaded into the workers' environment; `env` wins over it. */
  envFile?: string;
  /** The app's working directory (relative to the vhost file's folder); default: the app root. */
  cwd?: string;
  startTimeout?: Duration; // an app load (import) longer than this fails like a load error; default 30s
  passEnv?: string[]; // names of hostd's environment variables passed to the workers (Apache's PassEnv)
  sticky?: StickyConfig; // session affinity: requests carrying a session key go to the worker that holds it
  isolation?: 'thread' | 'process'; // process: worker threads in daemon processes of their own; default thread
  processes?: number; // daemon processes of a process pool, each with `threads` threads; default 1
  user?: string | number; // the daemon processes' user (hostd runs as root)
  group?: string | number; // their group; default the user's primary group
}

/** Session affinity on a pool (engine.io's `sid` is recognised without it). */
export interface StickyConfig {
  cookie?: string; // a session cookie: bound to the worker whose response set it
  query?: string; // a query parameter: bound to the worker that served it first
}

/** `websocket:` on an app mount: the limits of its WebSockets (docs/config.md). */
export interface WebSocketConfig {
  maxPayload?: number | string; // largest message from a client; bigger closes with 1009; default 1mb
  idleTimeout?: Duration; // silent this long (pings unanswered) closes; 0 = never; default 120s
  maxBackpressure?: number | string; // a client further behind is closed with 1008; default 1mb
  maxPendingBytes?: number | string; // received, not yet handled by the app; over it closes with 1013; default 4 × maxPayload, ≥ 1mb
  compression?: boolean; // permessage-deflate; default false
  maxConnections?: number; // open sockets on this mount over all fronts; beyond: 503; 0 = no limit; default 10000
}

export interface AppMountConfig {
  url: string;
  module: string;
  interface?: 'fetch' | 'node' | 'auto';
  maxBodySize?: number | string; // bytes, or "10mb"
  stripPrefix?: boolean; // fetch apps see mount-relative URLs; default true
  bufferBody?: number | string; // request bodies up to this size are read by the front before a worker is taken; default 64k
  bodyTimeout?: Duration; // each bufferBody-sized part of a request body must arrive within this; default 30s
  maxUrlLength?: number | string; // request target (path + query) longer than this gets 414; default 16k
  pool?: PoolConfig;
  websocket?: WebSocketConfig;
  watch?: boolean;
  touchFile?: string;
  compression?: boolean | CompressionConfig;
  cache?: CacheConfig;
}

export interface TlsConfig {
  cert: string;
  key: string;
  passphrase?: string;
}

/** The mapping form of `listen`, for settings of the address beyond host and port. */
export interface ListenConfig {
  port: number;
  host?: string; // default 0.0.0.0; an IPv6 address without brackets
  /**
   * Every connection starts with a PROXY protocol header (v1 or v2); those without are refused.
   * `{ trust: [CIDR...] }`: and only these peers may connect (true: --trust-proxy's, else loopback).
   */
  proxyProtocol?: boolean | { trust: string[] };
}

export interface VhostConfig {
  /** The site name in metrics, /status, logs and `POST /reload?site=`; default: the file's name without extension. */
  name?: string;
  serverName?: string | string[];
  default?: boolean;
  listen?: number | string | ListenConfig;
  tls?: TlsConfig;
  redirectHttps?: boolean | number;
  static?: StaticMountConfig[];
  apps?: AppMountConfig[];
  compression?: boolean | CompressionConfig; // default for this vhost's mounts
}

// ---- resolved ----

export interface ListenAddress {
  host: string; // "0.0.0.0" when the file gave only a port
  port: number;
  /** Connections must start with a PROXY protocol header (native-front/proxy-protocol). */
  proxyProtocol?: boolean;
  /** proxyProtocol: the peers allowed to send one, when the file lists them (proxy-protocol/trust.ts). */
  proxyTrust?: string[];
}

export interface ResolvedStatic {
  kind: 'static';
  url: string; // normalised: leading slash, no trailing slash ("" for the root mount)
  dir: string; // absolute, realpath'd
  maxAge?: number;
  immutable: boolean;
  index: string | false;
  dotfiles: boolean;
  followSymlinks: boolean;
  precompressed: boolean;
  /** Absent: the defaults (DEFAULT_COMPRESSION in resolve.ts). */
  compression?: ResolvedCompression;
}

export interface ResolvedCompression {
  enabled: boolean;
  minSize: number; // bytes
  types: string[] | null; // null: the compressible database decides
  level: { gzip: number; br: number };
}

export interface ResolvedCache {
  maxSize: number; // bytes
  maxObjectSize: number; // bytes
  header: string | null; // null: no X-Cache header
  cookies: 'bypass' | 'ignore';
  lockTimeoutMs: number;
}

export interface ResolvedPool {
  threads: number;
  minThreads: number;
  concurrency: number;
  maxRequests: number;
  maxRequestsJitter: number;
  requestTimeoutMs: number;
  queueSize: number;
  queueTimeoutMs: number;
  memoryLimitMb?: number;
  idleTimeoutMs: number;
  startTimeoutMs: number;
  /** The envFile's variables under the pool's own env (env wins). */
  env: Record<string, string>;
  /** Absolute: the app's working directory (pool.cwd, else the app root: see resolve/app-root.ts). */
  cwd: string;
  /** Absolute path of the envFile that was read, when there is one. */
  envFile?: string;
  passEnv?: string[]; // names only; values are read from hostd's environment when workers start
  sticky?: StickyConfig;
  /** thread: worker threads of hostd; process: worker threads in daemon processes (daemon/process). */
  isolation: 'thread' | 'process';
  /** Daemon processes of a process pool, each with `threads` worker threads. */
  processes: number;
  /** The daemon processes' user and group (hostd runs as root), looked up when the config is read. */
  user?: { name: string; uid: number; gid: number };
  group?: { name: string; gid: number };
}

export interface ResolvedWebSocket {
  maxPayload: number; // bytes
  idleTimeoutMs: number; // 0 = never
  maxBackpressure: number; // bytes
  maxPendingBytes: number; // bytes
  compression: boolean;
  maxConnections: number; // 0 = no limit
}

export interface ResolvedApp {
  kind: 'app';
  url: string; // normalised like ResolvedStatic.url
  module: string; // absolute path
  interface: 'fetch' | 'node' | 'auto';
  maxBodySize: number; // bytes
  stripPrefix: boolean;
  bufferBody: number; // bytes
  bodyTimeoutMs: number;
  maxUrlLength: number; // bytes
  pool: ResolvedPool;
  websocket: ResolvedWebSocket;
  watch: boolean;
  touchFile?: string; // absolute path
  /** Absent: the defaults (DEFAULT_COMPRESSION in resolve.ts). */
  compression?: ResolvedCompression;
  /** Absent: no response cache on this mount. */
  cache?: ResolvedCache;
}

export type ResolvedMount = ResolvedStatic | ResolvedApp;

export interface ResolvedVhost {
  /** The site name: unique across the host (docs/config.md, "name"). */
  name: string;
  file: string; // the vhost file, or "<api>" for programmatic mounts
  serverNames: string[]; // lowercased; "*" is the catch-all
  isDefault: boolean;
  listen: ListenAddress;
  tls?: TlsConfig; // absolute paths
  redirectHttps?: number; // port to redirect plain HTTP to, when set
  mounts: ResolvedMount[]; // static and apps together
}

/** One problem found in a vhost file: printed as `file:line: message`. */
export interface ConfigProblem {
  file: string;
  line: number;
  message: string;
}
