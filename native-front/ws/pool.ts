// A mount's and a pool's WebSocket side on one front.
//
// WsMount (per mount key, shared by every pool generation of the mount): the topic scope, the uWS
// Apps holding its sockets, subscribers by topic, counters. Topics are scoped per mount: the
// front prefixes every topic with the mount's scope before uWS sees it, so two apps that both
// use "chat" never see each other's messages, while old and new workers of one mount (during a
// reload) share their topics.
//
// WsPool (per pool): what the pool's worker links call (WsPoolHub): accepting upgrades, fanning
// out publishes (one uWS publish per App: a broadcast to 10,000 sockets costs the worker one
// message per front), closing a dead worker's sockets; and the pool-wide maxConnections count.
import { Buffer } from 'node:buffer';
import type { TemplatedApp } from 'uWebSockets.js';
import type { WorkerLink } from '../../daemon/dispatch/worker-link.js';
import type { Exchange } from '../../daemon/dispatch/types.js';
import type { WsPoolHub, WsSocket } from '../../daemon/dispatch/ws-types.js';
import {
  CLOSE_ABNORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_INTERNAL_ERROR,
  CLOSE_SERVICE_RESTART,
  WS_BINARY,
  WS_LOW_WATER,
  WS_NO_COMPRESS,
  WS_OPCODE_MASK,
} from '../../shared/protocol/ws.js';
import { ByteArena } from '../../shared/protocol/byte-arena.js';
import type { WsConn } from './conn.js';
import { WsStats } from './stats.js';

/** A scoped topic on one front: its subscribers, and what was published to it (per-socket counts). */
export interface Topic {
  readonly conns: Set<WsConn>;
  /** Messages and bytes published to it since it got its first subscriber. */
  messages: number;
  bytes: number;
  /** Bytes published since its subscribers' backlogs were last checked, and how many call for a check. */
  unchecked: number;
  checkEvery: number;
}

/**
 * Subscribers' backlogs are checked at least every quarter of their maxBackpressure published
 * (besides once per turn): a turn that publishes far more than that to a reader that stopped
 * reading closes it once it is over, instead of queueing the whole turn in uWS first.
 */
function checkEveryFor(maxBackpressure: number): number {
  return Math.max(WS_LOW_WATER, Math.floor(maxBackpressure / 4));
}

export class WsMount {
  /** uWS Apps (listeners, current and replaced) with open sockets of this mount, and how many. */
  readonly apps = new Map<TemplatedApp, number>();
  /** Topics with subscribers, by scoped name: who to check for backlog after a publish. */
  readonly topics = new Map<string, Topic>();
  readonly stats: WsStats;

  constructor(
    readonly key: string,
    /** Prepended to every topic of this mount (unique on this front). */
    readonly scope: string,
  ) {
    this.stats = new WsStats(key);
  }

  /** `conn` subscribed to scoped `topic`: returns the topic (its counts mark where the socket came in). */
  addSubscriber(topic: string, conn: WsConn): Topic {
    let t = this.topics.get(topic);
    if (t === undefined)
      this.topics.set(topic, (t = { conns: new Set(), messages: 0, bytes: 0, unchecked: 0, checkEvery: Number.MAX_SAFE_INTEGER }));
    t.conns.add(conn);
    t.checkEvery = Math.min(t.checkEvery, checkEveryFor(conn.limits.maxBackpressure));
    return t;
  }

  removeSubscriber(topic: string, conn: WsConn): void {
    const t = this.topics.get(topic);
    if (t === undefined) return;
    t.conns.delete(conn);
    if (t.conns.size === 0) this.topics.delete(topic);
  }

  /** A socket of this mount opened on `app`. */
  retain(app: TemplatedApp): void {
    this.apps.set(app, (this.apps.get(app) ?? 0) + 1);
  }

  /** A socket of this mount closed. */
  release(conn: WsConn): void {
    const n = (this.apps.get(conn.app) ?? 1) - 1;
    if (n > 0) this.apps.set(conn.app, n);
    else this.apps.delete(conn.app);
    if (conn.topics !== null) for (const t of conn.topics.keys()) this.removeSubscriber(t, conn);
  }
}

/** The close code for a worker's sockets when it goes, by why it went (daemon/pool detach reasons). */
export function closeCodeFor(reason: string): { code: number; text: string } {
  if (reason === 'died' || reason === 'ran out of memory') return { code: CLOSE_INTERNAL_ERROR, text: 'Internal Error' };
  if (reason === 'closing' || reason === 'retired') return { code: CLOSE_GOING_AWAY, text: 'Going Away' };
  return { code: CLOSE_SERVICE_RESTART, text: 'Service Restart' };
}

/** What accepting needs from the exchange that carried the upgrade (upgrade.ts). */
export interface AcceptingExchange extends Exchange {
  accepted(link: WorkerLink, id: number, headers: string[]): void;
}

function accepting(ex: Exchange | undefined): ex is AcceptingExchange {
  return ex !== undefined && typeof (ex as Partial<AcceptingExchange>).accepted === 'function';
}

export class WsPool implements WsPoolHub {
  /** Open sockets (and upgrades in progress) over every front: maxConnections counts these. */
  private readonly count: Int32Array;
  /** The mount this pool serves; set when the front builds the mount's handler. */
  mount: WsMount | null = null;
  /** Per worker link: the buffer its batch's messages are copied into (shared/protocol/byte-arena.ts). */
  private readonly arenas = new WeakMap<WorkerLink, ByteArena>();

  constructor(
    readonly id: number,
    sockets: SharedArrayBuffer,
    private readonly front: { touched(m: WsMount, topic: string): void },
  ) {
    this.count = new Int32Array(sockets, 0, 1);
  }

  arenaOf(link: WorkerLink): ByteArena {
    let a = this.arenas.get(link);
    if (a === undefined) this.arenas.set(link, (a = new ByteArena(link.out)));
    return a;
  }

  /** Takes a connection slot; false when `max` (0: no limit) are taken over all fronts. */
  reserve(max: number): boolean {
    if (Atomics.add(this.count, 0, 1) < max || max === 0) return true;
    Atomics.sub(this.count, 0, 1);
    return false;
  }

  release(): void {
    Atomics.sub(this.count, 0, 1);
  }

  accept(link: WorkerLink, id: number, ex: Exchange | undefined, headers: string[]): void {
    // The client went away (or the front gave up) after the worker decided: the worker hears it closed.
    if (!accepting(ex) || ex.finished) {
      if (!link.gone) link.out.wsClosed(id, CLOSE_ABNORMAL, '');
      return;
    }
    ex.accepted(link, id, headers);
  }

  publish(from: WsSocket | null, topic: string, data: string | Uint8Array, flags: number): void {
    const m = this.mount;
    if (m === null || m.apps.size === 0) return; // no socket of this mount on this front
    const scoped = m.scope + topic;
    const t = m.topics.get(scoped);
    if (t === undefined) return; // nobody subscribes here
    const binary = (flags & WS_OPCODE_MASK) === WS_BINARY;
    const compress = (flags & WS_NO_COMPRESS) === 0;
    const sender = from as WsConn | null;
    // A sender subscribed to the topic is left out of its own publish: uWS's ws.publish does that
    // (and delivers nothing for a socket subscribed to no topic at all: then app.publish, which the
    // sender, not being a subscriber, does not receive anyway).
    const self = sender !== null && !sender.closed && t.conns.has(sender);
    for (const app of m.apps.keys()) {
      if (self && sender.app === app) sender.ws!.publish(scoped, data, binary, compress);
      else app.publish(scoped, data, binary, compress);
    }
    // Counted per topic, not per socket: each socket adds up its topics' counts when it leaves.
    const n = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    t.messages++;
    t.bytes += n;
    if (self) sender.notReached(n);
    const reached = t.conns.size - (self ? 1 : 0);
    m.stats.messagesOut += reached;
    m.stats.bytesOut += reached * n;
    t.unchecked += n;
    if (t.unchecked >= t.checkEvery) {
      t.unchecked = 0;
      for (const c of [...t.conns]) c.checkBacklog();
    }
    this.front.touched(m, scoped);
  }

  detached(link: WorkerLink, reason: string): void {
    const sockets = link.sockets;
    if (sockets === null || sockets.size === 0) return;
    const { code, text } = closeCodeFor(reason);
    for (const s of sockets.values()) (s as WsConn).orphan(code, text);
  }
}
