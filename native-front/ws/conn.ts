// One open WebSocket on a front: the uWS socket, the worker it is pinned to (link + id), the
// limits of its mount, its counters, and the messages between the two. uWS does the protocol;
// this enforces hostd's limits with the close codes clients expect (uWS's own limits cut the
// connection without a close frame, which clients report as 1006):
// - maxPayload: a larger message closes with 1009. uWS refuses outright (no close frame) only
//   what exceeds the listener's ceiling, well above every maxPayload on it (wsPayloadCeiling).
// - maxBackpressure: uWS is told never to drop (its own limit silently skips messages); the
//   backlog is checked after every send that finds or builds one, after every quarter of the limit published to the
//   socket's topics (pool.ts), after every turn that published to them, and by the sweep; over the
//   limit the socket closes with 1008.
// - maxPendingBytes: uWS cannot pause a WebSocket's reading, so the front counts the bytes of the
//   client's messages it has handed to the worker that the app has not finished with (the worker
//   acknowledges them, wsAck); a message that would take the count over the bound closes the
//   socket with 1013 instead of being handed over. What the worker still holds then is bounded by
//   the same count.
// - idleTimeout: tracked here (uWS's timeout is per listener, not per mount): after half of it
//   without a message or pong from the client the front pings; silent for all of it, the
//   connection is cut (the peer is gone; 1006).
import { Buffer } from 'node:buffer';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { IdTable } from '../../shared/id-table.js';
import type { ResolvedWebSocket } from '../../shared/config/types.js';
import type { WorkerLink } from '../../daemon/dispatch/worker-link.js';
import type { WsSocket } from '../../daemon/dispatch/ws-types.js';
import {
  CLOSE_POLICY,
  CLOSE_TOO_BIG,
  CLOSE_TRY_AGAIN,
  CLOSE_TRY_AGAIN_REASON,
  WS_BINARY,
  WS_ACK_BYTES,
  WS_LOW_WATER,
  WS_NO_COMPRESS,
  WS_OPCODE_MASK,
  WS_PING,
  WS_PONG,
  WS_TERMINATE,
  WS_TEXT,
  wsMessageCost,
} from '../../shared/protocol/ws.js';
import type { ByteArena } from '../../shared/protocol/byte-arena.js';
import type { AccessRecord } from '../log/access-log.js';
import type { Topic, WsMount, WsPool } from './pool.js';

/** What a socket keeps for its access-log line (captured from the upgrade request). */
export type AccessBase = Omit<AccessRecord, 'status' | 'bytes' | 'durationMs' | 'websocket'>;

/** uWS user data: the connection record. */
export interface UserData {
  conn: WsConn;
}

/** What a connection needs from its front (front.ts). */
export interface ConnFront {
  /** A coarse clock (performance.now() at the last sweep). */
  readonly clock: number;
  opened(conn: WsConn): void;
  closed(conn: WsConn, code: number): void;
  /** Topics published this turn are checked for slow subscribers. */
  touched(mount: WsMount, topic: string): void;
}

export class WsConn implements WsSocket {
  ws: WebSocket<UserData> | null = null;
  closed = false;
  /** The worker is gone: nothing more is sent to it. */
  orphaned = false;
  /** A backlog was reported to the worker and has not been reported drained. */
  pressured = false;
  /** Bytes of the worker's messages handed to uWS so far, and as of the last report. */
  private written = 0;
  private reported = 0;
  lastSeen: number;
  pingOut = false;
  messagesIn = 0;
  bytesIn = 0;
  /** Cost (wsMessageCost) of the client's messages handed to the worker and not yet acknowledged. */
  pending = 0;
  messagesOut = 0;
  bytesOut = 0;
  /** Scoped topics it subscribes to, with the topic's counts when it subscribed. */
  topics: Map<string, { topic: Topic; messages: number; bytes: number }> | null = null;
  /** Its own publishes to topics it subscribes to (which do not reach it). */
  private selfMessages = 0;
  private selfBytes = 0;
  readonly openedAt = performance.now();
  /** Where its messages are copied for the batch to the worker. */
  private readonly arena: ByteArena;

  constructor(
    private readonly front: ConnFront,
    readonly pool: WsPool,
    readonly mount: WsMount,
    readonly link: WorkerLink,
    readonly id: number,
    readonly app: TemplatedApp,
    readonly limits: ResolvedWebSocket,
    readonly access: AccessBase | null,
  ) {
    this.lastSeen = front.clock;
    this.arena = pool.arenaOf(link);
  }

  // ------------------------------------------------------------ uWS events

  /** Called inside res.upgrade(). */
  onOpen(ws: WebSocket<UserData>): void {
    this.ws = ws;
    this.front.opened(this);
    if (!this.link.gone) this.link.out.wsOpen(this.id);
  }

  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    const n = message.byteLength;
    this.lastSeen = this.front.clock;
    this.pingOut = false;
    if (n > this.limits.maxPayload) return this.close(CLOSE_TOO_BIG, 'Message Too Big');
    this.messagesIn++;
    this.bytesIn += n;
    const stats = this.mount.stats;
    stats.messagesIn++;
    stats.bytesIn += n;
    if (this.orphaned || this.link.gone) return;
    if (!this.admit(n)) return;
    // uWS reuses the message's memory after this callback: copied into the batch's buffer.
    this.link.out.wsMessage(this.id, this.arena.copy(message), isBinary ? WS_BINARY : WS_TEXT);
  }

  onPong(data: ArrayBuffer): void {
    this.lastSeen = this.front.clock;
    this.pingOut = false;
    // The worker may be a node app that pings and waits for pongs (ws's heartbeat recipe).
    if (this.orphaned || this.link.gone || !this.admit(data.byteLength)) return;
    this.link.out.wsMessage(this.id, new Uint8Array(data.slice(0)), WS_PONG);
  }

  /** Counts a message for the worker against maxPendingBytes; over it, closes with 1013 instead. */
  private admit(payloadBytes: number): boolean {
    const pending = this.pending + wsMessageCost(payloadBytes);
    if (pending > this.limits.maxPendingBytes) {
      this.close(CLOSE_TRY_AGAIN, CLOSE_TRY_AGAIN_REASON);
      return false;
    }
    this.pending = pending;
    return true;
  }

  /** The worker's app is done with messages costing `bytes` (wsAck). */
  acked(bytes: number): void {
    this.pending = Math.max(0, this.pending - bytes);
  }

  onDrain(): void {
    if (!this.pressured || this.closed) return;
    const backlog = this.ws!.getBufferedAmount();
    if (backlog > WS_LOW_WATER) return;
    this.pressured = false;
    this.report(backlog);
  }

  /** Tells the worker how far behind the socket is (see WsConnection in daemon/worker/ws). */
  private report(backlog: number): void {
    this.reported = this.written;
    if (!this.orphaned && !this.link.gone) this.link.out.wsBuffered(this.id, backlog, this.written, this.pressured);
  }

  onClose(code: number, message: ArrayBuffer): void {
    if (this.closed) return;
    this.closed = true;
    const reason = message.byteLength > 0 ? Buffer.from(message).toString('utf8') : '';
    untrackSocket(this.link, this.id);
    this.front.closed(this, code);
    if (!this.orphaned && !this.link.gone) this.link.out.wsClosed(this.id, code, reason);
    this.ws = null;
  }

  // ------------------------------------------------------------ from the worker

  send(data: string | Uint8Array, flags: number): void {
    if (this.closed) return;
    const ws = this.ws!;
    const op = flags & WS_OPCODE_MASK;
    if (op === WS_PING) {
      ws.ping(data);
      return;
    }
    const n = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    this.messagesOut++;
    this.bytesOut += n;
    this.written += n;
    const stats = this.mount.stats;
    stats.messagesOut++;
    stats.bytesOut += n;
    // 1: written; 0: a backlog built up (uWS keeps it: maxBackpressure is 0 there, so never 2).
    // Every send behind a backlog returns 0, so the bound holds per message, not per burst.
    if (ws.send(data, op === WS_BINARY, (flags & WS_NO_COMPRESS) === 0) !== 1) this.checkBacklog();
    else if (this.written - this.reported >= WS_ACK_BYTES) this.report(0);
  }

  end(code: number, reason: string): void {
    if (this.closed) return;
    if (code === WS_TERMINATE) this.ws!.close();
    else this.ws!.end(code, reason);
  }

  subscribe(topic: string, on: boolean): void {
    if (this.closed) return;
    const scoped = this.mount.scope + topic;
    const topics = (this.topics ??= new Map());
    if (on) {
      if (topics.has(scoped)) return;
      this.ws!.subscribe(scoped);
      const topic = this.mount.addSubscriber(scoped, this);
      topics.set(scoped, { topic, messages: topic.messages, bytes: topic.bytes });
    } else {
      const sub = topics.get(scoped);
      if (sub === undefined) return;
      this.ws!.unsubscribe(scoped);
      this.countTopic(sub);
      topics.delete(scoped);
      this.mount.removeSubscriber(scoped, this);
    }
  }

  /** Adds what a topic delivered to this socket while it subscribed. */
  private countTopic(sub: { topic: Topic; messages: number; bytes: number }): void {
    this.messagesOut += sub.topic.messages - sub.messages;
    this.bytesOut += sub.topic.bytes - sub.bytes;
  }

  /** Its own publish to a topic it subscribes to: counted by the topic, not delivered here. */
  notReached(bytes: number): void {
    this.selfMessages++;
    this.selfBytes += bytes;
  }

  /** Messages and bytes sent to the client over its life (sends and publishes). */
  totalsOut(): { messages: number; bytes: number } {
    let messages = this.messagesOut - this.selfMessages;
    let bytes = this.bytesOut - this.selfBytes;
    if (this.topics !== null)
      for (const sub of this.topics.values()) {
        messages += sub.topic.messages - sub.messages;
        bytes += sub.topic.bytes - sub.bytes;
      }
    return { messages, bytes };
  }

  // ------------------------------------------------------------ limits

  /** After a send that built a backlog, a turn that published to it, or a sweep. */
  checkBacklog(): void {
    if (this.closed) return;
    const backlog = this.ws!.getBufferedAmount();
    if (backlog > this.limits.maxBackpressure) return this.close(CLOSE_POLICY, 'Backpressure Limit');
    if (backlog > 0 && !this.pressured) {
      this.pressured = true;
      this.report(backlog);
    }
  }

  /** The sweep: pings a quiet client, cuts a silent one. */
  checkIdle(now: number): void {
    const limit = this.limits.idleTimeoutMs;
    if (limit <= 0 || this.closed) return;
    const silent = now - this.lastSeen;
    if (silent >= limit) return this.ws!.close();
    if (silent >= limit / 2 && !this.pingOut) {
      this.pingOut = true;
      this.ws!.ping();
    }
  }

  /** Close with a close frame (uWS calls onClose at once, with this code). */
  close(code: number, reason: string): void {
    if (!this.closed) this.ws!.end(code, reason);
  }

  /** The worker is gone: the client hears `code` (1011 crash, 1012 restart, 1001 going away). */
  orphan(code: number, reason: string): void {
    this.orphaned = true;
    this.close(code, reason);
  }
}

/**
 * A socket the worker accepted, open on this front: in the link's table (created with its first
 * socket). A thread of a daemon process writes its own count of open sockets in its process, and
 * hostd's copy of its board would learn it only from the next stats (100 ms): sockets opened in
 * quick succession would all pick the same thread (the dispatcher's tie-break). The fronts count
 * those threads' sockets themselves, as they open and close.
 */
export function trackSocket(link: WorkerLink, id: number, conn: WsSocket): void {
  (link.sockets ??= new IdTable<WsSocket>(16)).set(id, conn);
  if (link.remote) link.board.addSockets(1);
}

export function untrackSocket(link: WorkerLink, id: number): void {
  if (link.sockets?.delete(id) && link.remote) link.board.addSockets(-1);
}
