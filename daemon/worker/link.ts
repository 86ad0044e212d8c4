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
import { BodyFeeder } from './body-feeder.js';
import { recycle } from './buffer-pool.js';
import { canBeLight, HostdRequest, LightRequest } from './light-request.js';
import { flatHeaders, GlobalResponse, isLightResponse, lightParts, markBodyTaken, realResponse } from './light-response.js';
import { compressWhole, encodeHeaders, streamCompressor } from './compress-response.js';
import { byteLength, directBody, headerAt, mountRelative, responseHead, setHeader, toBytes } from './response-parts.js';
import { RequestCtx, WorkerRequest } from './request.js';
import type { WorkerServer } from './server.js';

const noop = () => {};

/** The Content-Length a response's headers declare, or -1. */
function contentLength(flat: string[]): number {
  const at = headerAt(flat, 'content-length');
  return at < 0 ? -1 : Number(flat[at + 1]);
}

export class FrontLink implements WorkerHandlers {
  readonly out: FrontOutbox;
  private readonly reqs = new IdTable<WorkerRequest>();
  private readonly transferBound = (ab: ArrayBuffer): void => this.out.transfer(ab);
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
    if (s.compression !== null) {
      const ae = headerAt(flat, 'accept-encoding');
      r.compress = { acceptEncoding: ae < 0 ? '' : flat[ae + 1], isRange: headerAt(flat, 'range') >= 0 };
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
      // HEAD gets the headers GET would (Content-Encoding, Vary), not the compressed length.
      if (r.compress !== null) {
        const known = directBody(res);
        encodeHeaders(
          r.headers,
          r.status,
          known !== null ? byteLength(known) : contentLength(r.headers),
          r.compress,
          this.server.compression!,
        );
      }
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
    if (r.compress !== null) {
      const coding = encodeHeaders(r.headers, r.status, -1, r.compress, this.server.compression!);
      if (coding !== null) r.compressor = streamCompressor(coding, this.server.compression!);
    }
    this.markDirty(r); // the head goes out this tick even if the first chunk takes a while (SSE)
    void this.pump(r);
  }

  /** A response whose whole body is known now: one resFull. `light`: the LightResponse that owns `body`. */
  private whole(r: WorkerRequest, body: string | Uint8Array | null, light: Response | null): void {
    r.ended = true;
    if (body !== null) {
      const n = byteLength(body);
      if (r.isHead) {
        // HEAD gets the headers the GET would have had: its coding, or its length unless the app said otherwise.
        const coding = r.compress === null ? null : encodeHeaders(r.headers!, r.status, n, r.compress, this.server.compression!);
        if (coding === null && headerAt(r.headers!, 'content-length') < 0) r.headers!.push('content-length', String(n));
      } else if (n > 0) {
        const coding = r.compress === null ? null : encodeHeaders(r.headers!, r.status, n, r.compress, this.server.compression!);
        if (coding !== null) {
          compressWhole(body, coding, this.server.compression!).then(
            (bytes) => {
              if (r.finished) return;
              r.whole = bytes;
              // compressBody's result owns its whole buffer: large ones are handed over, not copied.
              r.transferWhole = bytes.byteLength >= TRANSFER_MIN && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
              this.markDirty(r);
            },
            (err) => this.fail(r, 500, `compressing the response failed: ${errorText(err)}`),
          );
          return;
        }
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
          if (r.compressor !== null) this.queueBytes(r, await r.compressor.end());
          if (r.finished) break;
          r.ended = true;
          this.markDirty(r);
          return;
        }
        let bytes = toBytes(value);
        if (r.compressor !== null && bytes.byteLength > 0) {
          bytes = await r.compressor.push(bytes); // flushed: an event reaches the client at once
          if (r.finished) break;
        }
        if (bytes.byteLength === 0) continue;
        this.queueBytes(r, bytes);
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

  private queueBytes(r: WorkerRequest, bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    (r.pending ??= []).push(bytes);
    r.pendingBytes += bytes.byteLength;
    r.unacked += bytes.byteLength;
    this.markDirty(r);
  }

  private markDirty(r: WorkerRequest): void {
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
      const body = r.takeBody(this.transferBound);
      if (!r.headSent) {
        r.headSent = true;
        const head = responseHead(r.headers!);
        if (r.ended) {
          this.out.resFull(r.id, r.status, head.name, head.rest, head.contentLength, body);
          this.finish(r);
          continue;
        }
        this.out.resHead(r.id, r.status, head.name, head.rest, head.contentLength);
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
