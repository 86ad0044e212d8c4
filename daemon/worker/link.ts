// One front's data port, worker side: turns that front's requests into `Request`s (light ones
// where undici would take the parts unchanged), hands them to the app through the server, and
// sends each `Response` back, whole or streamed with credits, everything produced in one tick
// as one batch.
import type { MessagePort } from 'node:worker_threads';
import type { Board } from '../../shared/protocol/board.js';
import type { AddressQuery } from '../../shared/protocol/address-query.js';
import { IdTable } from '../../shared/id-table.js';
import { decodeToWorker, FrontOutbox, LOG_ERROR, RESPONSE_WINDOW, TRANSFER_MIN, type WorkerHandlers } from '../../shared/protocol/index.js';
import { errorText } from '../../shared/errors.js';
import type { AppContext, UpgradeOptions } from '../app/types.js';
import { BodyFeeder } from './body-feeder.js';
import { allocOwned, copyOwned, recycle } from './buffer-pool.js';
import { canBeLight, HostdRequest, LazySignal, LightRequest } from './light-request.js';
import { flatHeaders, GlobalResponse, isLightResponse, lightParts, markBodyTaken, realResponse } from './light-response.js';
import { byteLength, directBody, headerAt, mountRelative, setHeader, toBytes } from './response-parts.js';
import type { WorkerServer } from './server.js';
import type { PendingUpgrade } from './ws/connection.js';

const noop = () => {};

/** One request in this worker, from its head to the last message about it. */
export class WorkerRequest {
  readonly signal = new LazySignal();
  body: BodyFeeder | null = null;
  /** Until the app is called (the server may defer it: see server.ts). */
  head: { method: string; url: string; headers: string[]; address: string | null } | null;
  status = 200;
  headers: string[] | null = null;
  headSent = false;
  /** The whole body, known at once (light or direct responses): posted as it is, in resFull. */
  whole: string | Uint8Array | null = null;
  /** `whole` is a buffer of ours: transfer it instead of copying it. */
  transferWhole = false;
  pending: Uint8Array[] | null = null;
  pendingBytes = 0;
  ended = false; // response body complete
  dirty = false;
  finished = false; // nothing more goes to the front for this id
  unacked = 0;
  creditWait: (() => void) | null = null;
  reader: ReadableStreamDefaultReader<unknown> | null = null;
  /** Set by ctx.upgrade(): once fetch returns, the request becomes a WebSocket (daemon/worker/ws). */
  upgrade: PendingUpgrade | null = null;
  constructor(
    readonly link: FrontLink,
    readonly id: number,
    readonly isHead: boolean,
    readonly requestId: string,
    method: string,
    url: string,
    headers: string[],
    address: string | null,
  ) {
    this.head = { method, url, headers, address };
  }
}

/** The `ctx` an app gets. The client address comes with the request, or is asked for on first use. */
class RequestCtx implements AppContext {
  constructor(
    readonly waitUntil: (p: Promise<unknown>) => void,
    readonly mount: string,
    readonly requestId: string,
    private address: string | null,
    private readonly query: AddressQuery,
    private readonly id: number,
    private readonly r: WorkerRequest,
    private readonly server: WorkerServer,
  ) {}
  get remoteAddress(): string {
    return (this.address ??= this.query.ask(this.id));
  }
  // WebSockets (daemon/worker/ws/worker-ws.ts).
  upgrade(request: Request, options?: UpgradeOptions): boolean {
    return this.server.ws !== null && this.server.ws.upgrade(this.r, this.remoteAddress, request, options);
  }
  get publish(): AppContext['publish'] {
    return this.server.ws!.publishFromApp;
  }
}

export class FrontLink implements WorkerHandlers {
  readonly out: FrontOutbox;
  private readonly reqs = new IdTable<WorkerRequest>();
  private dirty: WorkerRequest[] = [];

  constructor(
    readonly index: number,
    port: MessagePort,
    private readonly server: WorkerServer,
    private readonly board: Board,
    private readonly addresses: AddressQuery,
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
    const ctx = new RequestCtx(s.waitUntil, s.mount, r.requestId, head.address, this.addresses, r.id, r, s);
    let result: Response | Promise<Response>;
    try {
      result = s.fetch(request, s.env, ctx);
    } catch (err) {
      this.fail(r, 500, errorText(err));
      return;
    }
    if (result instanceof GlobalResponse) this.respond(r, result);
    else
      Promise.resolve(result).then(
        (res) => this.respond(r, res),
        (err) => this.fail(r, 500, errorText(err)),
      );
  }

  private respond(r: WorkerRequest, res: Response): void {
    if (r.upgrade !== null) return this.upgraded(r, res);
    try {
      this.respondWith(r, res);
    } catch (err) {
      // e.g. a Response whose body was already read: the request must not hang
      this.fail(r, 500, errorText(err));
    }
  }

  private respondWith(r: WorkerRequest, res: Response): void {
    if (r.finished) {
      if (res instanceof GlobalResponse && !isLightResponse(res) && res.body) res.body.cancel().catch(noop);
      return;
    }
    if (!(res instanceof GlobalResponse)) {
      this.fail(r, 500, `the app did not return a Response (got ${res === null ? 'null' : typeof res})`);
      return;
    }
    if (isLightResponse(res)) {
      const parts = lightParts(res);
      if (parts !== null) {
        r.status = parts.status;
        r.headers = parts.headers;
        this.whole(r, parts.body, res);
        return;
      }
      res = realResponse(res); // throws for a body already handed over: respond() answers 500
    }
    r.status = res.status;
    r.headers = flatHeaders(res.headers);
    if (r.isHead) {
      if (res.body !== null) res.body.cancel().catch(noop);
      r.ended = true;
      this.markDirty(r);
      return;
    }
    const whole = directBody(res);
    if (whole !== null) {
      this.whole(r, whole, null);
      return;
    }
    const body = res.body;
    if (body === null) {
      r.ended = true;
      this.markDirty(r);
      return;
    }
    r.reader = body.getReader(); // throws for a body already read: respond() answers 500
    this.markDirty(r); // the head goes out this tick even if the first chunk takes a while (SSE)
    void this.pump(r);
  }

  /** A response whose whole body is known now: one resFull. `light`: the LightResponse that owns `body`. */
  private whole(r: WorkerRequest, body: string | Uint8Array | null, light: Response | null): void {
    r.ended = true;
    if (body !== null) {
      const n = byteLength(body);
      if (r.isHead) {
        // HEAD gets the length the GET would have had, unless the app said otherwise.
        if (headerAt(r.headers!, 'content-length') < 0) r.headers!.push('content-length', String(n));
      } else if (n > 0) {
        if (typeof body !== 'string' && n >= TRANSFER_MIN && light !== null) {
          markBodyTaken(light); // ours alone (the light response copied it into the buffer pool): hand it over
          r.transferWhole = true;
        }
        r.whole = body;
      }
    }
    this.markDirty(r);
  }

  private async pump(r: WorkerRequest): Promise<void> {
    const reader = r.reader!;
    try {
      for (;;) {
        if (r.unacked >= RESPONSE_WINDOW) await new Promise<void>((resolve) => (r.creditWait = resolve));
        if (r.finished) break;
        const { done, value } = await reader.read();
        if (r.finished) break;
        if (done) {
          r.ended = true;
          this.markDirty(r);
          return;
        }
        const bytes = toBytes(value);
        if (bytes.byteLength === 0) continue;
        (r.pending ??= []).push(bytes);
        r.pendingBytes += bytes.byteLength;
        r.unacked += bytes.byteLength;
        this.markDirty(r);
      }
      reader.cancel().catch(noop);
    } catch (err) {
      if (!r.finished) this.fail(r, 500, errorText(err));
    }
  }

  /** fetch returned after ctx.upgrade(): the socket is accepted, whatever it returned. */
  private upgraded(r: WorkerRequest, res: unknown): void {
    if (res instanceof GlobalResponse && !isLightResponse(res) && res.body) res.body.cancel().catch(noop);
    if (r.finished) return; // the client went away meanwhile
    this.server.ws!.accept(r);
    this.finish(r);
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

  // ------------------------------------------------------------ sending

  private markDirty(r: WorkerRequest): void {
    if (!r.dirty) {
      r.dirty = true;
      this.dirty.push(r);
      this.out.wake();
    }
  }

  /** Takes the buffered response bytes as one chunk, transferring a copy we own when that pays. */
  private takePending(r: WorkerRequest): string | Uint8Array | null {
    const whole = r.whole;
    if (whole !== null) {
      r.whole = null;
      if (typeof whole === 'string') return whole; // strings are cheap to clone: no encoding here
      if (r.transferWhole) {
        this.out.transfer(whole.buffer as ArrayBuffer);
        return whole;
      }
      if (whole.byteLength < TRANSFER_MIN) {
        // Structured clone copies a view's whole ArrayBuffer: slice partial views first.
        return whole.byteOffset === 0 && whole.byteLength === whole.buffer.byteLength ? whole : whole.slice();
      }
      const owned = copyOwned(whole);
      this.out.transfer(owned.buffer as ArrayBuffer);
      return owned;
    }
    const parts = r.pending;
    if (parts === null || r.pendingBytes === 0) return null;
    const total = r.pendingBytes;
    r.pending = null;
    r.pendingBytes = 0;
    if (parts.length === 1 && total < TRANSFER_MIN) {
      const c = parts[0];
      return c.byteOffset === 0 && c.byteLength === c.buffer.byteLength ? c : c.slice();
    }
    const owned = total >= TRANSFER_MIN ? allocOwned(total) : new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      owned.set(p, off);
      off += p.byteLength;
    }
    if (total >= TRANSFER_MIN) this.out.transfer(owned.buffer as ArrayBuffer);
    return owned;
  }

  private flushDirty(): void {
    const list = this.dirty;
    if (list.length === 0) return;
    this.dirty = [];
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      r.dirty = false;
      if (r.finished) continue;
      const body = this.takePending(r);
      if (!r.headSent) {
        r.headSent = true;
        if (r.ended) {
          this.out.resFull(r.id, r.status, r.headers!, body);
          this.finish(r);
          continue;
        }
        this.out.resHead(r.id, r.status, r.headers!);
      }
      // (only a whole body can be a string, and a whole body always goes out in resFull)
      if (body !== null) this.out.resBody(r.id, body as Uint8Array);
      if (r.ended) {
        this.out.resEnd(r.id);
        this.finish(r);
      }
    }
  }

  /** The request failed in the worker: the front answers `status` (or cuts the connection if the head went out). */
  private fail(r: WorkerRequest, status: number, detail: string): void {
    if (r.finished) return;
    this.out.resError(r.id, status, detail);
    this.finish(r);
    if (r.reader) r.reader.cancel().catch(noop);
  }

  private finish(r: WorkerRequest): void {
    r.finished = true;
    r.pending = null;
    r.whole = null;
    this.reqs.delete(r.id);
    if (r.creditWait) {
      const w = r.creditWait;
      r.creditWait = null;
      w();
    }
    this.server.requestFinished();
  }
}
