// A front's WebSockets: the uWS behavior every listener registers, its pools and mounts, the
// sweep (idle timeouts, pings, backlogs), the access-log line and counters of each socket, and
// what shutdown does to them. FrontRuntime (native-front/front/runtime.ts) owns one and calls it
// at the hooks marked there.
import type { HttpRequest, HttpResponse, us_socket_context_t, WebSocketBehavior } from 'uWebSockets.js';
import type { Dispatcher } from '../../daemon/dispatch/dispatcher.js';
import { StickySessions } from '../../daemon/dispatch/ws-sticky.js';
import type { ResolvedVhost } from '../../shared/config/types.js';
import type { Logger } from '../../shared/log.js';
import { CLOSE_GOING_AWAY } from '../../shared/protocol/ws.js';
import type { Router } from '../routing/router.js';
import type { Listener } from '../front/listener.js';
import type { PoolOpen } from '../front/messages.js';
import { loadUws } from '../http/uws.js';
import type { UserData, WsConn } from './conn.js';
import { WsMount, WsPool } from './pool.js';
import type { WsCounters } from './stats.js';
import { handleUpgrade } from './upgrade.js';

/** How often idle sockets are checked (and the coarse clock advances). */
const SWEEP_MS = 500;
/** Messages up to this size are always read; the listener's real limit is in wsPayloadCeiling. */
const MIN_CEILING = 64 * 1024;

/**
 * The largest message uWS reads on a listener before it cuts the connection itself (without a
 * close frame). Above every maxPayload of the listener's mounts, so that a message over a mount's
 * maxPayload reaches hostd and is answered with 1009: twice the largest, at most 1 MiB more.
 */
export function wsPayloadCeiling(vhosts: readonly ResolvedVhost[]): number {
  let max = 0;
  for (const v of vhosts) for (const m of v.mounts) if (m.kind === 'app' && m.websocket.maxPayload > max) max = m.websocket.maxPayload;
  return Math.max(MIN_CEILING, max + Math.min(max, 1024 * 1024));
}

export class WsFront {
  /** performance.now() at the last sweep: socket activity is stamped with it. */
  clock = performance.now();
  private readonly pools = new Map<number, WsPool>();
  private readonly mounts = new Map<string, WsMount>();
  private readonly conns = new Set<WsConn>();
  private nextScope = 1;
  private sweeper: NodeJS.Timeout | null = null;
  /** Topics published this turn, checked for slow subscribers once the turn's messages are out. */
  private readonly touchedTopics = new Map<string, WsMount>();
  private readonly checkTouched = () => this.checkBacklogs();

  constructor(
    readonly router: Router,
    readonly log: Logger,
  ) {}

  // ---------------------------------------------------------------- listeners

  /** The uWS behavior of a listener's App (and of each of its SNI domains). */
  behavior(listener: Listener, vhosts: readonly ResolvedVhost[]): WebSocketBehavior<UserData> {
    const uws = loadUws();
    return {
      // Limits are per mount and enforced in conn.ts with the close codes clients expect; uWS
      // gets the listener-wide ceiling, compression available (offered per mount), no idle
      // timeout and no backpressure limit of its own (it would drop messages silently).
      maxPayloadLength: wsPayloadCeiling(vhosts),
      idleTimeout: 0,
      maxBackpressure: 0,
      closeOnBackpressureLimit: 0,
      sendPingsAutomatically: false,
      compression: uws.SHARED_COMPRESSOR | uws.SHARED_DECOMPRESSOR,
      upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => handleUpgrade(this, listener, res, req, context),
      open: (ws) => ws.getUserData().conn.onOpen(ws),
      message: (ws, message, isBinary) => ws.getUserData().conn.onMessage(message, isBinary),
      drain: (ws) => ws.getUserData().conn.onDrain(),
      pong: (ws, data) => ws.getUserData().conn.onPong(data),
      close: (ws, code, message) => ws.getUserData().conn.onClose(code, message),
    };
  }

  // ---------------------------------------------------------------- pools and mounts

  /** A pool's dispatcher opened on this front: give it its WebSocket hub and session table. */
  openPool(open: PoolOpen, d: Dispatcher): void {
    const pool = new WsPool(open.pool, open.sockets, this);
    this.pools.set(open.pool, pool);
    d.ws = pool;
    d.sticky = new StickySessions(open.cfg.sticky);
  }

  disposePool(id: number): void {
    this.pools.delete(id);
  }

  /** An app mount's handler was built for `pool` (mounts keep their scope across reloads). */
  bindMount(key: string, pool: number): void {
    const p = this.pools.get(pool);
    if (p !== undefined) p.mount = this.mountFor(key);
  }

  private mountFor(key: string): WsMount {
    let m = this.mounts.get(key);
    if (m === undefined) this.mounts.set(key, (m = new WsMount(key, `${this.nextScope++}\u0000`)));
    return m;
  }

  /** Forgets the counters of mounts that are gone (and hold no sockets any more). */
  keepMounts(live: ReadonlySet<string>): void {
    for (const [k, m] of this.mounts) if (!live.has(k) && m.apps.size === 0) this.mounts.delete(k);
  }

  // ---------------------------------------------------------------- sockets

  opened(conn: WsConn): void {
    this.conns.add(conn);
    conn.mount.retain(conn.app);
    conn.mount.stats.open++;
    conn.mount.stats.upgrades++;
    if (this.sweeper === null) {
      this.clock = performance.now();
      this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
      this.sweeper.unref();
    }
  }

  closed(conn: WsConn, code: number): void {
    this.conns.delete(conn);
    const out = conn.totalsOut();
    conn.mount.release(conn);
    conn.mount.stats.closed(code);
    conn.pool.release();
    if (conn.access !== null && this.router.accessLog !== null) {
      this.router.accessLog.write({
        ...conn.access,
        status: 101,
        bytes: out.bytes,
        durationMs: performance.now() - conn.openedAt,
        websocket: { closeCode: code, messagesIn: conn.messagesIn, bytesIn: conn.bytesIn, messagesOut: out.messages, bytesOut: out.bytes },
      });
    }
    if (this.conns.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  poolFor(d: Dispatcher): WsPool | null {
    return d.ws as WsPool | null;
  }

  touched(mount: WsMount, topic: string): void {
    if (this.touchedTopics.size === 0) setImmediate(this.checkTouched);
    this.touchedTopics.set(topic, mount);
  }

  private checkBacklogs(): void {
    for (const [topic, m] of this.touchedTopics) {
      const t = m.topics.get(topic);
      if (t !== undefined) for (const c of [...t.conns]) c.checkBacklog();
    }
    this.touchedTopics.clear();
  }

  private sweep(): void {
    const now = (this.clock = performance.now());
    for (const c of [...this.conns]) {
      c.checkIdle(now);
      c.checkBacklog();
    }
  }

  /** Shutdown: every socket closes (1001 after the drain; cut, past the deadline). */
  closeAll(code = CLOSE_GOING_AWAY, reason = 'Going Away'): void {
    for (const c of [...this.conns]) c.close(code, reason);
  }

  /** Past the drain deadline: cut what is left. */
  cutAll(): void {
    for (const c of [...this.conns]) if (!c.closed) c.ws!.close();
  }

  /** Sockets open on this front. */
  get open(): number {
    return this.conns.size;
  }

  stats(): WsCounters[] {
    return [...this.mounts.values()].map((m) => m.stats.snapshot());
  }
}
