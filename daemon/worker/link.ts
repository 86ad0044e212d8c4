// One front's data port, worker side: decodes that front's messages (request heads, bodies,
// aborts, credits, WebSocket events), turns each request into a `Request` (a light one where
// undici would take the parts unchanged), hands it to the app through the server, and sends the
// answers back, everything produced in one tick as one batch. What becomes of the app's
// `Response` (whole, streamed, compressed, HEAD, upgraded) is app-response.ts.
import type { MessagePort } from 'node:worker_threads';
import type { FrontSocket } from '../process/front-sockets.js';
import type { Board } from '../../shared/protocol/board.js';
import type { AddressQuery } from '../../shared/protocol/address-query.js';
import { IdTable } from '../../shared/id-table.js';
import { decodeToWorker, FrontOutbox, LOG_ERROR, RESPONSE_WINDOW, type WorkerHandlers } from '../../shared/protocol/index.js';
import { errorText } from '../../shared/errors.js';
import { respond } from './app-response.js';
import { BodyFeeder } from './body-feeder.js';
import { recycle } from './buffer-pool.js';
import { canBeLight, HostdRequest, LightRequest } from './light-request.js';
import { GlobalResponse } from './light-response.js';
import { startNode } from './node-exchange.js';
import { headerAt, mountRelative, responseHead, setHeader } from './response-parts.js';
import { RequestCtx, WorkerRequest } from './request.js';
import type { WorkerServer } from './server.js';

const noop = () => {};

/** A WebSocket upgrade request: a node app's 'upgrade' listeners may take it (daemon/app/ws-bridge.ts). */
function isWebSocketUpgrade(flat: readonly string[]): boolean {
  const at = headerAt(flat, 'upgrade');
  return at >= 0 && flat[at + 1].toLowerCase() === 'websocket';
}

export class FrontLink implements WorkerHandlers {
  readonly out: FrontOutbox;
  private readonly reqs = new IdTable<WorkerRequest>();
  private readonly transferBound = (ab: ArrayBuffer): void => this.out.transfer(ab);
  private dirty: WorkerRequest[] = [];

  constructor(
    readonly index: number,
    port: MessagePort | FrontSocket,
    readonly server: WorkerServer,
    private readonly board: Board,
    private readonly addresses: AddressQuery,
    /** A body over this goes in pieces of this size (a socket to a front: framing.ts BODY_PIECE). */
    private readonly bodyPiece = Number.POSITIVE_INFINITY,
  ) {
    this.out = new FrontOutbox(port);
    // Dirty responses are turned into messages right before the outbox posts its batch.
    this.out.beforeFlush = () => this.flushDirty();
    port.on('message', (batch: unknown[]) => {
      server.batchStarted();
      const bad = decodeToWorker(batch, this);
      if (bad !== 0) server.log(LOG_ERROR, `hostd worker: unknown message tag ${bad}`);
    });
  }

  /** Requests of this front not yet answered. */
  get size(): number {
    return this.reqs.size;
  }

  // ------------------------------------------------------------ messages from the front

  reqHead(id: number, method: string, url: string, headers: string[], address: string | null, requestId: string, hasBody: boolean): void {
    const r = new WorkerRequest(this, id, method === 'HEAD', requestId, method, url, headers, address);
    this.reqs.set(id, r);
    if (hasBody) {
      r.body = new BodyFeeder((bytes) => {
        if (!r.finished) this.out.reqCredit(id, bytes);
      });
    }
    this.server.admit(r);
  }

  reqBody(id: number, chunk: ArrayBuffer): void {
    const r = this.reqs.get(id);
    if (r !== undefined && r.body !== null) r.body.push(new Uint8Array(chunk));
  }

  reqEnd(id: number): void {
    const r = this.reqs.get(id);
    if (r !== undefined && r.body !== null) r.body.end();
  }

  abort(id: number): void {
    const r = this.reqs.get(id);
    if (r === undefined) return;
    this.finish(r);
    if (r.exchange !== null) {
      r.exchange.abort(); // a node exchange: no signal, no stream to abort
      return;
    }
    const reason = new DOMException('The client went away', 'AbortError');
    r.signal.abort(reason);
    if (r.body) r.body.error(reason);
    if (r.reader) r.reader.cancel(reason).catch(noop);
  }

  resCredit(id: number, bytes: number): void {
    const r = this.reqs.get(id);
    if (r === undefined) return;
    r.unacked -= bytes;
    if (r.creditWait !== null && r.unacked < RESPONSE_WINDOW) {
      const w = r.creditWait;
      r.creditWait = null;
      w();
    }
  }

  ping(seq: number): void {
    this.out.pong(seq);
  }

  bufReturn(buffer: ArrayBuffer): void {
    recycle(buffer);
  }

  // ------------------------------------------------------------ calling the app

  /** Hands a request to the app (called by the server, in id order). */
  start(r: WorkerRequest): void {
    const head = r.head!;
    r.head = null;
    if (r.finished) return; // aborted while deferred
    this.board.setStarted(this.index, r.id); // before any app code runs: the front must never replay this one
    const s = this.server;
    const flat = head.headers;
    setHeader(flat, 'x-request-id', r.requestId);
    if (s.compression !== null) {
      const ae = headerAt(flat, 'accept-encoding');
      r.compress = { acceptEncoding: ae < 0 ? '' : flat[ae + 1], isRange: headerAt(flat, 'range') >= 0 };
    }
    if (s.node !== null && !isWebSocketUpgrade(flat)) {
      // Node-style apps take the direct path; their upgrades go through the fetch wrapper (ws-bridge.ts).
      startNode(this, r, head.method, head.url, flat, this.ctx(r, head.address), s.node);
      return;
    }
    let url = head.url;
    if (s.stripPrefix && s.mount !== '') {
      url = mountRelative(url, s.mount);
      setHeader(flat, 'x-forwarded-prefix', s.mount);
    }
    let request: Request;
    if (canBeLight(head.method, url, flat)) {
      request = new LightRequest(head.method, url, flat, r.signal, r.body) as unknown as Request;
    } else {
      // Unusual method, URL or header values: undici's Request normalises them (or refuses: 400).
      try {
        const headers = new Headers();
        for (let k = 0; k < flat.length; k += 2) headers.append(flat[k], flat[k + 1]);
        const init: RequestInit & { duplex?: 'half' } = { method: head.method, headers };
        if (r.body !== null) {
          init.body = r.body.stream;
          init.duplex = 'half';
        }
        request = new HostdRequest(url, init, r.signal);
      } catch (err) {
        this.fail(r, 400, `bad request: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
    }
    const ctx = this.ctx(r, head.address);
    let result: Response | Promise<Response>;
    try {
      result = s.fetch(request, s.env, ctx);
    } catch (err) {
      this.fail(r, 500, errorText(err));
      return;
    }
    if (result instanceof GlobalResponse) respond(this, r, result);
    else
      Promise.resolve(result).then(
        (res) => respond(this, r, res),
        (err) => this.fail(r, 500, errorText(err)),
      );
  }

  private ctx(r: WorkerRequest, address: string | null): RequestCtx {
    return new RequestCtx(this.server.waitUntil, this.server.mount, r.requestId, address, this.addresses, r.id, r, this.server);
  }

  // ------------------------------------------------------------ WebSockets (daemon/worker/ws)

  wsOpen(id: number): void {
    this.server.ws?.open(this, id);
  }

  wsMessage(id: number, data: Uint8Array, opcode: number): void {
    this.server.ws?.message(this, id, data, opcode);
  }

  wsBuffered(id: number, backlog: number, written: number, pressured: boolean): void {
    this.server.ws?.buffered(this, id, backlog, written, pressured);
  }

  wsClosed(id: number, code: number, reason: string): void {
    this.server.ws?.closed(this, id, code, reason);
  }

  // ------------------------------------------------------------ sending (also used by app-response.ts)

  /** Queues streamed body bytes of `r` for the next batch (counted against the credit window). */
  queueBytes(r: WorkerRequest, bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    r.addPending(bytes);
    this.markDirty(r);
  }

  /** `r` has something to send: it goes out with the outbox's next flush. */
  markDirty(r: WorkerRequest): void {
    if (!r.dirty) {
      r.dirty = true;
      this.dirty.push(r);
      this.out.wake();
    }
  }

  private flushDirty(): void {
    const list = this.dirty;
    if (list.length === 0) return;
    this.dirty = [];
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      r.dirty = false;
      if (r.finished) continue;
      if (r.preparing) {
        r.preparing = false;
        if (!r.exchange!.prepare()) continue;
      }
      const body = r.takeBody(this.transferBound);
      // (a string's bytes: at most 3 per UTF-16 unit)
      const inPieces = body !== null && (typeof body === 'string' ? body.length * 3 : body.byteLength) > this.bodyPiece;
      if (!r.headSent) {
        r.headSent = true;
        const head = responseHead(r.headers!);
        if (r.ended && !inPieces) {
          this.out.resFull(r.id, r.status, head.name, head.rest, head.contentLength, body);
          this.finish(r);
          continue;
        }
        this.out.resHead(r.id, r.status, head.name, head.rest, head.contentLength);
      }
      if (inPieces) this.sendPieces(r.id, body);
      // (only a whole body can be a string, and a large one went in pieces above)
      else if (body !== null) this.out.resBody(r.id, body as Uint8Array);
      if (r.ended) {
        this.out.resEnd(r.id);
        this.finish(r);
      }
    }
  }

  /** A large body to a front over a socket: resBody pieces, so no frame outgrows MAX_FRAME. */
  private sendPieces(id: number, body: string | Uint8Array): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    for (let at = 0; at < bytes.byteLength; at += this.bodyPiece) this.out.resBody(id, bytes.subarray(at, at + this.bodyPiece));
  }

  /** The request failed in the worker: the front answers `status` (or cuts the connection if the head went out). */
  fail(r: WorkerRequest, status: number, detail: string): void {
    if (r.finished) return;
    this.out.resError(r.id, status, detail);
    this.finish(r);
    if (r.reader) r.reader.cancel().catch(noop);
  }

  /** Nothing more goes to the front for `r`: forget it, release a pump waiting for credit. */
  finish(r: WorkerRequest): void {
    r.finished = true;
    r.pending = null;
    r.whole = null;
    r.compressor?.destroy();
    this.reqs.delete(r.id);
    if (r.creditWait) {
      const w = r.creditWait;
      r.creditWait = null;
      w();
    }
    this.server.requestFinished();
  }
}
