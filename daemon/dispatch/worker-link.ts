// One front's data port to one daemon worker: its outbox, the requests it carries, and the
// worker's answers decoded into Exchange calls.
import type { MessagePort } from 'node:worker_threads';
import { RemotePort } from './process-socket.js';
import { IdTable } from '../../shared/id-table.js';
import { answerAddress } from '../../shared/protocol/address-query.js';
import { Board } from '../../shared/protocol/board.js';
import { decodeToFront, TRANSFER_MIN, WorkerOutbox, type FrontHandlers } from '../../shared/protocol/index.js';
import type { Exchange, Ticket, WorkerAttach } from './types.js';
import type { WsPoolHub, WsSocket } from './ws-types.js';
import type { StickySessions } from './ws-sticky.js';

/** What a link needs from its dispatcher. */
export interface LinkOwner {
  /** The app asked for a client address: from now on send it with every request. */
  wantAddresses(): void;
  /** A worker slot was freed: move queued requests. */
  pump(): void;
  /** The worker said it has answered everything this front sent it. */
  linkDrained(key: number): void;
  unknownMessage(tag: number): void;
  /** A thread of a daemon process sent a frame that does not decode (its connection is cut). */
  badFrame(link: WorkerLink, err: unknown): void;
  /** The pool's WebSockets on this front (daemon/dispatch/ws-types.ts); set before workers attach. */
  readonly ws: WsPoolHub | null;
  /** The pool's session affinity on this front (daemon/dispatch/ws-sticky.ts). */
  readonly sticky: StickySessions | null;
}

export class WorkerLink implements FrontHandlers {
  readonly key: number;
  readonly board: Board;
  readonly out: WorkerOutbox;
  readonly inflight = new IdTable<Exchange>();
  readonly limit: number;
  nextId = 0;
  /** performance.now() when an unanswered ping went out; 0 when none is outstanding. */
  pingSentAt = 0;
  pingSeq = 0;
  /** The control thread has been asked to retire it (request limit reached). */
  retireAsked = false;
  /** The control thread has been asked to terminate it (it did not answer a ping). */
  killAsked = false;
  gone = false;
  /** The worker's open WebSockets on this front, by the id of their upgrade request (native-front/ws). */
  sockets: IdTable<WsSocket> | null = null;
  /** Set when pool.sticky.cookie is: responses are watched for the cookie (ws-sticky.ts). */
  private readonly stickyCookies: StickySessions | null;
  private readonly port: MessagePort | RemotePort;
  /** A thread of a daemon process: its bytes arrive copied out of a socket frame. */
  readonly remote: boolean;
  private readonly addressBuf: SharedArrayBuffer;

  constructor(
    a: WorkerAttach,
    private readonly owner: LinkOwner,
  ) {
    this.key = a.key;
    this.board = new Board(a.board);
    this.limit = a.limit;
    const port = a.port ?? new RemotePort(a.remote!, a.key);
    this.port = port;
    this.remote = a.port === null;
    this.addressBuf = a.address;
    this.stickyCookies = owner.sticky !== null && owner.sticky.cookie !== null ? owner.sticky : null;
    this.out = new WorkerOutbox(port);
    port.on('message', (batch: unknown[]) => {
      if (this.gone) return;
      const bad = decodeToFront(batch, this);
      if (bad !== 0) owner.unknownMessage(bad);
      owner.pump();
    });
    if (port instanceof RemotePort) port.on('error', (err) => owner.badFrame(this, err));
    port.unref(); // an idle pool must not keep the process alive; the listeners do that
  }

  /** This link as the opaque handle an exchange holds while the worker serves it. */
  get ticket(): Ticket {
    return this as unknown as Ticket;
  }

  /** Hands `ex` to the worker under a fresh id (the caller has claimed a slot on the board). */
  send(ex: Exchange, address: string | null): void {
    const id = ++this.nextId;
    ex.id = id;
    ex.ticket = this.ticket;
    this.inflight.set(id, ex);
    this.out.reqHead(id, ex.method, ex.url, ex.headers, address, ex.requestId, ex.hasBody);
  }

  /** The worker is done with request `id` (or the front gave up on it): forget it, free its slot. */
  release(id: number): Exchange | undefined {
    const ex = this.inflight.get(id);
    if (ex !== undefined) {
      this.inflight.delete(id);
      this.board.release();
      ex.ticket = null;
    }
    return ex;
  }

  /** Ends the link (the worker is gone): returns the exchanges it still carried. */
  close(): Exchange[] {
    this.gone = true;
    this.out.close();
    this.port.close();
    const left = this.inflight.values();
    this.inflight.clear();
    for (const ex of left) ex.ticket = null;
    return left;
  }

  // ------------------------------------------------------------ worker → front

  resHead(id: number, status: number, headName: string, headRest: string, contentLength: number): void {
    if (this.stickyCookies !== null) this.stickyCookies.sawResponse(this, headName, headRest);
    this.inflight.get(id)?.resHead(status, headName, headRest, contentLength);
  }

  resBody(id: number, chunk: Uint8Array): void {
    this.inflight.get(id)?.resBody(chunk);
  }

  resEnd(id: number): void {
    this.release(id)?.resEnd();
  }

  resFull(id: number, status: number, headName: string, headRest: string, contentLength: number, body: string | Uint8Array | null): void {
    if (this.stickyCookies !== null) this.stickyCookies.sawResponse(this, headName, headRest);
    this.release(id)?.resFull(status, headName, headRest, contentLength, body);
    // uWS has copied or sent the bytes by now: the buffer goes back to the worker for reuse
    // (not across a process: the worker's buffer never left it, the front got a copy).
    if (body instanceof Uint8Array && body.byteLength >= TRANSFER_MIN && !this.gone && !this.remote) {
      const ab = body.buffer as ArrayBuffer;
      this.out.bufReturn(ab);
      this.out.transfer(ab);
    }
  }

  resError(id: number, status: number, detail: string): void {
    this.release(id)?.resError(status, detail);
  }

  reqCredit(id: number, bytes: number): void {
    this.inflight.get(id)?.uploadCredit(bytes);
  }

  pong(seq: number): void {
    if (seq === this.pingSeq) this.pingSentAt = 0;
  }

  drained(): void {
    this.owner.linkDrained(this.key);
  }

  addrQuery(id: number, seq: number): void {
    this.owner.wantAddresses();
    const ex = this.inflight.get(id);
    const address = ex !== undefined ? ex.remoteAddress : '';
    // A thread of a daemon process waits on a buffer in its own process: its relay writes the answer.
    if (this.port instanceof RemotePort) this.port.answerAddress(seq, address);
    else answerAddress(this.addressBuf, seq, address);
  }

  // ------------------------------------------------------------ WebSockets (daemon/dispatch/ws-types.ts)

  wsAccept(id: number, headers: string[]): void {
    const ex = this.release(id); // the upgrade request is answered: its slot is free
    if (this.owner.ws !== null) this.owner.ws.accept(this, id, ex, headers);
  }

  wsSend(id: number, data: string | Uint8Array | null, flags: number): void {
    this.sockets?.get(id)?.send(data ?? '', flags);
  }

  wsEnd(id: number, code: number, reason: string): void {
    this.sockets?.get(id)?.end(code, reason);
  }

  wsSubscribe(id: number, topic: string, on: boolean): void {
    this.sockets?.get(id)?.subscribe(topic, on);
  }

  wsPublish(id: number, topic: string, data: string | Uint8Array | null, flags: number): void {
    const from = id === 0 ? null : (this.sockets?.get(id) ?? null);
    this.owner.ws?.publish(from, topic, data ?? '', flags);
  }

  wsAck(id: number, bytes: number): void {
    this.sockets?.get(id)?.acked(bytes);
  }

  stickyClaim(key: string): void {
    this.owner.sticky?.claimed(this, key);
  }
}
