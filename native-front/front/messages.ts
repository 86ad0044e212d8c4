// The messages between the control thread and a front (plain objects: a few per reload or
// status read, and one per event-loop turn for the logs). Every command that needs an answer
// carries a `seq` the reply repeats.
import type { ListenAddress, ResolvedMount, ResolvedPool, ResolvedVhost } from '../../shared/config/types.js';
import type { DispatchStats, WorkerAttach } from '../../daemon/dispatch/types.js';
import type { Level } from '../../shared/log.js';
import type { LogFormat } from '../log/access-log.js';
import type { FileCacheStats } from '../static/index.js';
import type { CacheStats } from '../cache/index.js';
import type { WsCounters } from '../ws/stats.js';

/** What a front is told once, when it starts. */
export interface FrontInit {
  index: number;
  /** Access log format, or null when there is no access log. */
  accessLog: LogFormat | null;
  trustProxy: string[];
  fileCache: { maxBytes?: number; maxFileBytes?: number };
  /** How long retired mounts may finish their requests. */
  gracefulMs: number;
}

export interface ListenerPlan {
  key: string;
  address: ListenAddress;
  /** The vhosts on this address (routing table, TLS names). */
  vhosts: ResolvedVhost[];
  /** Identifies the default certificate (uWS cannot swap it: a new one needs a new listener). */
  defaultCert: string;
  /** Bind this port instead of address.port (an ephemeral port another front already bound). */
  bindPort?: number;
}

export interface MountPlan {
  key: string;
  fingerprint: string;
  vhostName: string;
  /** The site name (logs; the counters are keyed by `key`). */
  site: string;
  mount: ResolvedMount;
  /** App mounts: their pool (its dispatcher was opened with poolOpen). */
  pool?: number;
  /** App mounts: the host apps see in request.url when the client sent no Host. */
  fallbackHost: string;
  /** A kept app mount whose pool this reload rolls (its cached answers are dropped). */
  rolled?: boolean;
}

export interface PoolOpen {
  pool: number;
  cfg: ResolvedPool;
  mountUrl: string;
  vhostName: string;
  site: string;
  /** Pool-wide count of queued requests (Int32), shared by every front's dispatcher. */
  queued: SharedArrayBuffer;
  /** Pool-wide count of open WebSockets (Int32), for maxConnections (native-front/ws). */
  sockets: SharedArrayBuffer;
}

export type FrontCommand =
  /** Mounts whose plan says `rolled` keep their handler but drop their cached answers. */
  | { t: 'prepare'; seq: number; listeners: ListenerPlan[]; mounts: MountPlan[] }
  | { t: 'commit'; seq: number }
  | { t: 'abort'; seq: number }
  | { t: 'poolOpen'; open: PoolOpen }
  | { t: 'attach'; pool: number; worker: WorkerAttach }
  | { t: 'detach'; pool: number; key: number; reason: string }
  | { t: 'loadState'; pool: number; loadError: string }
  | { t: 'unavailable'; pool: number }
  | { t: 'rolled'; pool: number }
  | { t: 'pump'; pool: number }
  | { t: 'poolClose'; seq: number; pool: number; deadlineMs: number }
  | { t: 'poolDispose'; pool: number }
  | { t: 'drain' }
  | { t: 'cut' }
  | { t: 'accept'; paused: boolean }
  | { t: 'stats'; seq: number }
  | { t: 'purge'; seq: number; url?: string; prefix?: string; host?: string }
  /** Shutdown, after the drain: close every WebSocket with 1001; the reply says how many are still open. */
  | { t: 'wsClose'; seq: number };

export interface MountCounters {
  key: string;
  /** The mount's response cache, when it has one. */
  cache: CacheStats | null;
  byClass: number[];
  buckets: number[];
  latencySum: number;
  count: number;
  bytes: number;
}

export interface FrontStats {
  index: number;
  /** Milliseconds this front's event loop has been busy since it started (wall time, waits for a core included). */
  activeMs: number;
  /** CPU milliseconds of this front's thread so far (Linux; -1 elsewhere). */
  cpuMs: number;
  inFlight: number;
  unrouted: number;
  mounts: MountCounters[];
  pools: Array<{ pool: number } & DispatchStats>;
  cache: FileCacheStats;
  /** Per mount: WebSocket counters (native-front/ws/stats.ts). */
  websockets: WsCounters[];
}

export type FrontEvent =
  | { t: 'reply'; seq: number; error?: string; ports?: Record<string, number>; stats?: FrontStats; purged?: number; wsOpen?: number }
  | { t: 'log'; level: Level; msg: string; fields?: Record<string, unknown> }
  | { t: 'access'; text: string }
  | { t: 'retire' | 'kill' | 'drained'; pool: number; key: number }
  | { t: 'pumpOthers'; pool: number }
  | { t: 'fatal'; error: string };
