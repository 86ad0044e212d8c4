// One WebSocket as its worker holds it: its state, what it sends (with the backpressure the front
// reports), its topics, and the Bun-shaped object a fetch app's handlers get.
//
// What send() returns, and why it can be trusted only this far: the worker cannot call uWS, so
// it cannot know synchronously whether a message was written. The front writes every message as
// it arrives and reports (wsBuffered) the socket's backlog in uWS (what the client has not taken
// yet) and how many bytes it has written for the socket so far: when a backlog appears, when it
// has drained below WS_LOW_WATER, and every WS_ACK_BYTES written. The worker counts what it sends,
// so it knows what is still on its way to the front too. A socket is "behind" while the front
// reports a backlog, or while more than WS_IN_FLIGHT_HIGH bytes are on their way (the front is
// behind: a tight loop can outrun it). So:
// - n ≥ 1 (the byte length, 1 for an empty message): handed to the front, the socket not behind.
//   Not a delivery receipt.
// - -1: handed to the front and queued behind the socket's backlog (or the front's). Stop sending
//   and wait for drain(), which fires once it has caught up. A client further behind than
//   maxBackpressure is closed with 1008 and close(ws, 1008, ...) says so: what was still queued
//   then is lost.
// - 0: dropped, because the socket is closing or closed (readyState 2 or 3). A closed socket
//   always answers 0; backpressure never does.
// getBufferedAmount(): the backlog the front last reported plus what was sent since its report.
//
// The other direction: the front cannot stop reading a WebSocket, so it counts the client's
// messages it has handed over until the worker acknowledges them (websocket.maxPendingBytes). A
// message is acknowledged when the app is done with it: its handler returned, or the promise it
// returned settled. Acks are summed per socket and go out with the link's next batch (wsAck).
import { Buffer } from 'node:buffer';
import type { ServerWebSocket, UpgradeOptions, WebSocketHandlers, WsConnectionHandler, WsEndpoint } from '../../app/types.js';
import {
  CLOSE_NORMAL,
  WS_ACK_BYTES,
  WS_BINARY,
  WS_IN_FLIGHT_HIGH,
  WS_NO_COMPRESS,
  WS_PING,
  WS_PONG,
  WS_TERMINATE,
  WS_TEXT,
  wsMessageCost,
} from '../../../shared/protocol/ws.js';
import type { FrontLink } from '../link.js';
import type { ByteArena } from '../../../shared/protocol/byte-arena.js';
import { asBytes, wsByteLength, type WsData } from './wire.js';

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

/** What a connection needs from the worker's WebSocket hub (worker-ws.ts). */
export interface WsHub {
  /** The buffer a link's batch carries message bytes in. */
  arena(link: FrontLink): ByteArena;
  publish(from: WsConnection | null, topic: string, data: string | Uint8Array, opcode: number, compress: boolean): number;
  error(conn: WsConnection, what: string, err: unknown): void;
  /** `conn` has acknowledgements to send (unacked > 0): they go out with the link's next batch. */
  toAck(conn: WsConnection): void;
}

const utf8 = new TextDecoder();

export class WsConnection implements WsEndpoint {
  readyState = CONNECTING;
  /** Behind (see above): sends say -1 and drain() fires when this clears. */
  private behind = false;
  /** The socket's backlog at the front's last report. */
  private backlog = 0;
  /** Bytes sent so far, and how many of them the front had written at its last report. */
  private sent = 0;
  private written = 0;
  topics: Set<string> | null = null;
  handler: WsConnectionHandler;
  /** Cost of the client's messages the app is done with, not yet acknowledged to the front. */
  unacked = 0;
  /** Its messages (and a close) waiting in the worker's inbox (inbox.ts). */
  queued = 0;
  private readonly ackBound = (cost: number) => this.ack(cost);

  constructor(
    readonly hub: WsHub,
    readonly link: FrontLink,
    readonly id: number,
    readonly remoteAddress: string,
    readonly requestId: string,
    handler: (conn: WsConnection) => WsConnectionHandler,
  ) {
    this.handler = handler(this);
  }

  // ------------------------------------------------------------ sending

  send(data: string | Uint8Array, opcode: number, compress: boolean): number {
    if (this.readyState !== OPEN) return 0;
    let n: number;
    let payload: string | Uint8Array;
    if (typeof data === 'string') {
      payload = data;
      n = wsByteLength(data);
    } else {
      // Copied now (the app may reuse its buffer), into the batch's buffer (byte-arena.ts).
      payload = this.hub.arena(this.link).copy(data);
      n = payload.byteLength;
    }
    this.link.out.wsSend(this.id, payload, opcode | (compress ? 0 : WS_NO_COMPRESS));
    this.sent += n;
    if (!this.behind && this.sent - this.written > WS_IN_FLIGHT_HIGH) this.behind = true;
    return this.behind ? -1 : Math.max(n, 1);
  }

  /** For the node bridge: hold the library's writes while behind. */
  get pressured(): boolean {
    return this.behind;
  }

  end(code: number, reason: string): void {
    if (this.readyState >= CLOSING) return;
    this.readyState = CLOSING;
    this.link.out.wsEnd(this.id, code, reason);
  }

  terminate(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSING;
    this.link.out.wsEnd(this.id, WS_TERMINATE, '');
  }

  getBufferedAmount(): number {
    return this.backlog + (this.sent - this.written);
  }

  subscribe(topic: string, on: boolean): void {
    if (this.readyState !== OPEN && on) return;
    const t = (this.topics ??= new Set());
    if (on === t.has(topic)) return;
    if (on) t.add(topic);
    else t.delete(topic);
    if (this.readyState === OPEN) this.link.out.wsSubscribe(this.id, topic, on);
  }

  // ------------------------------------------------------------ from the front

  opened(): void {
    this.readyState = OPEN;
    this.handler.open(this);
  }

  received(data: Uint8Array, opcode: number): void {
    const cost = wsMessageCost(data.byteLength);
    if (this.readyState === OPEN || (this.readyState === CLOSING && opcode === WS_PONG)) {
      const r = this.handler.message(data, opcode);
      if (r != null && typeof r.then === 'function') {
        const ack = () => this.ackBound(cost);
        r.then(ack, ack);
        return;
      }
    }
    this.ack(cost);
  }

  private ack(cost: number): void {
    if (this.readyState === CLOSED) return; // the front has forgotten the socket
    if (this.unacked === 0) this.hub.toAck(this);
    this.unacked += cost;
  }

  buffered(backlog: number, written: number, pressured: boolean): void {
    this.backlog = backlog;
    this.written = written;
    // Caught up once the front reports no backlog and less than one report's worth on its way
    // (the front reports at least every WS_ACK_BYTES written, so that is always reached).
    const behind = pressured || this.sent - written > WS_ACK_BYTES;
    if (behind) this.behind = true;
    else if (this.behind) {
      this.behind = false;
      if (this.readyState === OPEN) this.handler.drain();
    }
  }

  closed(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    const opened = this.readyState !== CONNECTING;
    this.readyState = CLOSED;
    this.topics = null;
    if (opened) this.handler.close(code, reason);
  }
}

/** A close code an endpoint may send (RFC 6455 section 7.4): 1000-1003, 1007-1014, 3000-4999. */
export function validCloseCode(code: number): boolean {
  return Number.isInteger(code) && ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999));
}

/** A close reason cut to the 123 bytes a close frame holds, on a character boundary. */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > 123) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** The ServerWebSocket a fetch app's handlers get. */
class AppSocket<T> implements ServerWebSocket<T> {
  constructor(
    private readonly c: WsConnection,
    public data: T,
  ) {}
  get remoteAddress(): string {
    return this.c.remoteAddress;
  }
  get readyState(): number {
    return this.c.readyState;
  }
  send(data: WsData, compress?: boolean): number {
    return typeof data === 'string'
      ? this.c.send(data, WS_TEXT, compress !== false)
      : this.c.send(asBytes(data), WS_BINARY, compress !== false);
  }
  sendText(data: string, compress?: boolean): number {
    return this.c.send(String(data), WS_TEXT, compress !== false);
  }
  sendBinary(data: ArrayBufferLike | ArrayBufferView, compress?: boolean): number {
    return this.c.send(asBytes(data), WS_BINARY, compress !== false);
  }
  close(code: number = CLOSE_NORMAL, reason = ''): void {
    if (!validCloseCode(code))
      throw new RangeError(`WebSocket close code ${code} is not one an endpoint may send (1000-1003, 1007-1014, 3000-4999)`);
    this.c.end(code, closeReason(String(reason)));
  }
  terminate(): void {
    this.c.terminate();
  }
  ping(data: WsData = ''): number {
    return this.c.send(typeof data === 'string' ? data : asBytes(data), WS_PING, false);
  }
  subscribe(topic: string): void {
    this.c.subscribe(String(topic), true);
  }
  unsubscribe(topic: string): void {
    this.c.subscribe(String(topic), false);
  }
  isSubscribed(topic: string): boolean {
    return this.c.topics?.has(String(topic)) ?? false;
  }
  get subscriptions(): string[] {
    return this.c.topics ? [...this.c.topics] : [];
  }
  publish(topic: string, data: WsData, compress?: boolean): number {
    // Also from close(): "X left" reaches the others; the closed socket itself is not there.
    const text = typeof data === 'string';
    return this.c.hub.publish(this.c, String(topic), text ? data : asBytes(data), text ? WS_TEXT : WS_BINARY, compress !== false);
  }
  getBufferedAmount(): number {
    return this.c.getBufferedAmount();
  }
  cork<R>(cb: (ws: ServerWebSocket<T>) => R): R {
    return cb(this);
  }
}

/** Calls a fetch app's `websocket` handlers; an exception costs a log line, never the worker. */
export function appHandler(handlers: WebSocketHandlers, data: unknown): (conn: WsConnection) => WsConnectionHandler {
  return (conn) => {
    const ws = new AppSocket(conn, data);
    // Returns the handler's promise (settled, never rejected) when it returned one.
    const run = (what: string, fn: () => unknown): Promise<unknown> | undefined => {
      try {
        const r = fn() as { then?: unknown } | undefined;
        if (r && typeof r.then === 'function') return (r as Promise<unknown>).then(undefined, (err) => conn.hub.error(conn, what, err));
      } catch (err) {
        conn.hub.error(conn, what, err);
      }
      return undefined;
    };
    return {
      open: () => {
        if (handlers.open) run('open', () => handlers.open!(ws));
      },
      message: (bytes, opcode) => {
        if (opcode === WS_PONG) {
          if (handlers.pong) return run('pong', () => handlers.pong!(ws, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
          return;
        }
        if (!handlers.message) return;
        const msg = opcode === WS_TEXT ? utf8.decode(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return run('message', () => handlers.message!(ws, msg));
      },
      drain: () => {
        if (handlers.drain) run('drain', () => handlers.drain!(ws));
      },
      close: (code, reason) => {
        if (handlers.close) run('close', () => handlers.close!(ws, code, reason));
      },
    };
  };
}

/** What ctx.upgrade() noted on a request, for the link to act on once fetch returns. */
export interface PendingUpgrade {
  handler: (conn: WsConnection) => WsConnectionHandler;
  headers: string[];
  remoteAddress: string;
}

/** Turns UpgradeOptions.headers into a flat lowercase list. */
export function upgradeHeaders(opts: UpgradeOptions | undefined): string[] {
  if (!opts?.headers) return [];
  const flat: string[] = [];
  new Headers(opts.headers).forEach((v, k) => flat.push(k, v));
  return flat;
}
