// A worker's WebSockets: the sockets it accepted on every front's data port, the messages about
// them (wsOpen, wsMessage, wsBuffered, wsClosed in; wsAccept, wsSend, wsEnd, wsSubscribe,
// wsPublish out), pub/sub (one wsPublish per front: each front fans it out natively), session
// claims, and what retirement does to open sockets.
import type { AppContext, UpgradeOptions, WebSocketHandlers, WsConnectionHandler } from '../../app/types.js';
import { WS_CONNECTION } from '../../app/types.js';
import { errorText } from '../../../shared/errors.js';
import { IdTable } from '../../../shared/id-table.js';
import type { Board } from '../../../shared/protocol/board.js';
import { LOG_ERROR } from '../../../shared/protocol/index.js';
import {
  CLOSE_ABNORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_SERVICE_RESTART,
  CLOSE_TRY_AGAIN,
  WS_BINARY,
  WS_NO_COMPRESS,
  WS_TEXT,
} from '../../../shared/protocol/ws.js';
import type { FrontLink } from '../link.js';
import type { WorkerRequest } from '../request.js';
import { ByteArena } from '../../../shared/protocol/byte-arena.js';
import { Inbox } from './inbox.js';
import { appHandler, CLOSED, upgradeHeaders, WsConnection, type PendingUpgrade, type WsHub } from './connection.js';
import { asBytes, wsByteLength, type WsData } from './wire.js';

/** What the hub needs from the worker's server (server.ts). */
export interface WsServer {
  log(level: number, text: string, requestId?: string): void;
  /** A socket closed: a retiring worker may now be done. */
  requestFinished(): void;
}

function isUpgradeRequest(request: Request): boolean {
  const h = request.headers;
  return (h.get('upgrade') ?? '').toLowerCase() === 'websocket' && h.has('sec-websocket-key');
}

export class WorkerWs implements WsHub {
  /** Sockets accepted and not yet closed, over all fronts. */
  size = 0;
  private links: FrontLink[] = [];
  private tables: IdTable<WsConnection>[] = [];
  private arenas: ByteArena[] = [];
  /** Per link: sockets with acknowledgements for its next batch. */
  private acks: WsConnection[][] = [];
  private retireTimer: NodeJS.Timeout | null = null;
  /** Client messages read from the ports, handed to the app a turn's worth at a time. */
  private readonly inbox = new Inbox();

  constructor(
    private readonly server: WsServer,
    private readonly board: Board,
    /** The fetch app's `websocket` handlers, if it exports them. */
    private readonly handlers: WebSocketHandlers | null,
  ) {}

  attach(links: FrontLink[]): void {
    this.links = links;
    this.tables = links.map(() => new IdTable<WsConnection>(16));
    this.arenas = links.map((l) => new ByteArena(l.out));
    this.acks = links.map(() => []);
    for (const l of links) {
      // Acks join whatever else the link sends this tick (one batch; see codec.ts Outbox).
      const before = l.out.beforeFlush;
      l.out.beforeFlush = () => {
        this.flushAcks(l);
        before?.();
      };
    }
  }

  toAck(conn: WsConnection): void {
    const list = this.acks[conn.link.index];
    if (list.length === 0) conn.link.out.wake();
    list.push(conn);
  }

  private flushAcks(link: FrontLink): void {
    const list = this.acks[link.index];
    if (list.length === 0) return;
    this.acks[link.index] = [];
    for (const c of list) {
      if (c.unacked > 0 && c.readyState !== CLOSED) link.out.wsAck(c.id, c.unacked);
      c.unacked = 0;
    }
  }

  arena(link: FrontLink): ByteArena {
    return this.arenas[link.index];
  }

  error(conn: WsConnection, what: string, err: unknown): void {
    this.server.log(LOG_ERROR, `WebSocket ${what} handler threw: ${errorText(err)}`, conn.requestId);
  }

  // ------------------------------------------------------------ accepting

  /** ctx.upgrade(request, options) for the request `r`. */
  upgrade(r: WorkerRequest, remoteAddress: string, request: Request, opts: UpgradeOptions | undefined): boolean {
    if (r.finished || r.upgrade !== null || !isUpgradeRequest(request)) return false;
    const own = opts?.[WS_CONNECTION];
    let handler: (conn: WsConnection) => WsConnectionHandler;
    if (own !== undefined) handler = () => own;
    else if (this.handlers !== null) handler = appHandler(this.handlers, opts?.data);
    else throw new TypeError('ctx.upgrade(): the app exports no `websocket` handlers ({ open, message, close, drain }) beside fetch');
    const pending: PendingUpgrade = { handler, headers: upgradeHeaders(opts), remoteAddress };
    r.upgrade = pending;
    return true;
  }

  /** fetch returned after ctx.upgrade(): the socket is accepted (the link then finishes the request). */
  accept(r: WorkerRequest): void {
    const up = r.upgrade!;
    const conn = new WsConnection(this, r.link, r.id, up.remoteAddress, r.requestId, up.handler);
    this.tables[r.link.index].set(r.id, conn);
    this.size++;
    this.board.addSockets(1);
    r.link.out.wsAccept(r.id, up.headers);
  }

  // ------------------------------------------------------------ from the fronts

  open(link: FrontLink, id: number): void {
    this.tables[link.index].get(id)?.opened();
  }

  message(link: FrontLink, id: number, data: Uint8Array, opcode: number): void {
    const conn = this.tables[link.index].get(id);
    if (conn !== undefined) this.inbox.message(conn, data, opcode);
  }

  buffered(link: FrontLink, id: number, backlog: number, written: number, pressured: boolean): void {
    this.tables[link.index].get(id)?.buffered(backlog, written, pressured);
  }

  closed(link: FrontLink, id: number, code: number, reason: string): void {
    const table = this.tables[link.index];
    const conn = table.get(id);
    if (conn === undefined) return;
    // A socket that was cut (1006) or closed for sending more than the app handles (1013) loses
    // what it still had queued here; a proper close waits behind the socket's messages (inbox.ts).
    if (code === CLOSE_ABNORMAL || code === CLOSE_TRY_AGAIN) this.close(table, id, conn, code, reason);
    else this.inbox.closeAfter(conn, () => this.close(table, id, conn, code, reason));
  }

  private close(table: IdTable<WsConnection>, id: number, conn: WsConnection, code: number, reason: string): void {
    if (table.get(id) !== conn) return;
    table.delete(id);
    this.size--;
    this.board.addSockets(-1);
    conn.closed(code, reason);
    this.server.requestFinished();
  }

  // ------------------------------------------------------------ pub/sub, sessions

  publish(from: WsConnection | null, topic: string, data: string | Uint8Array, opcode: number, compress: boolean): number {
    const flags = opcode | (compress ? 0 : WS_NO_COMPRESS);
    for (const l of this.links) {
      const payload = typeof data === 'string' ? data : this.arenas[l.index].copy(data);
      l.out.wsPublish(from !== null && from.link === l ? from.id : 0, topic, payload, flags);
    }
    return Math.max(wsByteLength(data), 1);
  }

  /** ctx.publish(): from an HTTP request, to every subscriber. */
  readonly publishFromApp: AppContext['publish'] = (topic: string, data: WsData, compress?: boolean): number => {
    const text = typeof data === 'string';
    return this.publish(null, String(topic), text ? data : asBytes(data), text ? WS_TEXT : WS_BINARY, compress !== false);
  };

  /** This worker holds session `key`: every front sends that session's requests here. */
  claim(key: string): void {
    for (const l of this.links) l.out.stickyClaim(key);
  }

  // ------------------------------------------------------------ retirement

  /**
   * The pool is retiring this worker: its sockets close with `code` after `afterMs` (a reload lets
   * them finish until --graceful-timeout; a recycle closes them at once with 1012). The worker says
   * drained once they have all closed.
   */
  retire(code: number, afterMs: number): void {
    if (this.retireTimer !== null) clearTimeout(this.retireTimer);
    this.retireTimer = null;
    if (afterMs <= 0) return this.closeAll(code);
    this.retireTimer = setTimeout(() => this.closeAll(code), afterMs);
  }

  private closeAll(code: number): void {
    const reason = code === CLOSE_SERVICE_RESTART ? 'Service Restart' : code === CLOSE_GOING_AWAY ? 'Going Away' : '';
    for (const t of this.tables) for (const conn of t.values()) if (conn.readyState !== CLOSED) conn.end(code, reason);
  }
}
