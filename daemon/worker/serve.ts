// The worker side of the wire protocol: turns REQ_* messages into `Request`s (light ones where
// undici would take the parts unchanged), calls the app, and sends each `Response` back (whole,
// or streamed with credits), coalescing everything produced in one tick into one batch.
import { Buffer } from 'node:buffer';
import type { AppContext, FetchHandler } from '../app/types.js';
import type { AddressQuery } from '../../shared/address-query.js';
import { IdTable } from '../../shared/id-table.js';
import * as P from '../../shared/protocol.js';
import { BodyFeeder } from './body-feeder.js';
import { allocOwned, copyOwned, recycle } from './buffer-pool.js';
import { canBeLight, HostdRequest, LazySignal, LightRequest } from './light-request.js';
import { flatHeaders, GlobalResponse, isLightResponse, lightParts, markBodyTaken, realResponse } from './light-response.js';

const noop = () => {};
/** Chunks below this are structured-cloned; above it we copy once into a buffer we own and transfer it. */
const TRANSFER_MIN = P.TRANSFER_MIN;

/** One request in this worker. */
class WorkerRequest {
  readonly signal = new LazySignal();
  body: BodyFeeder | null = null;
  status = 200;
  headers: string[] | null = null;
  responded = false; // the app handed us a Response
  headSent = false;
  /** The whole body, known at once (light or direct responses): posted as it is, in RES_FULL. */
  whole: string | Uint8Array | null = null;
  /** `whole` is a buffer of ours: transfer it instead of copying it. */
  transferWhole = false;
  pending: Uint8Array[] | null = null;
  pendingBytes = 0;
  ended = false; // response body complete
  dirty = false;
  finished = false; // nothing more goes to the front for this id
  aborted = false;
  unacked = 0;
  creditWait: (() => void) | null = null;
  reader: ReadableStreamDefaultReader<unknown> | null = null;
  constructor(
    readonly id: number,
    readonly isHead: boolean,
    readonly requestId: string,
  ) {}
}

// ---- fast paths (see light-request.ts and light-response.ts)
//
// Requests reach the app as LightRequests when undici would take their parts unchanged, and a
// LightResponse (globalThis.Response in the worker) built from a string or bytes is read
// directly: no URL parse, no Headers, no AbortController, no ReadableStream, no reader turns.
// Real Responses (from fetch(), a stream body, or a light one the app read) built from a string
// or bytes are still taken from undici's body source rather than pumped through a reader
// (several promise turns per response). Feature-detected once via undici's internal `state`
// symbol; anything unusual falls back to the reader.

const stateSymbol: symbol | undefined = (() => {
  try {
    const probe = new GlobalResponse('probe');
    const sym = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'state');
    if (sym === undefined) return undefined;
    const st = (probe as unknown as Record<symbol, { body?: { source?: unknown } }>)[sym];
    return st?.body?.source === 'probe' ? sym : undefined;
  } catch {
    return undefined;
  }
})();

/** The whole body when the Response was built from a string or bytes and nobody touched its stream. */
function directBody(res: Response): string | Uint8Array | null {
  if (stateSymbol === undefined || res.bodyUsed) return null;
  const body = (res as unknown as Record<symbol, { body?: { source?: unknown; stream?: ReadableStream } | null }>)[stateSymbol]?.body;
  if (!body || body.stream?.locked) return null;
  const src = body.source;
  if (typeof src === 'string') return src;
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  return null;
}

/** Where `name` (lowercase) sits in a flat [name, value, ...] list, or -1. */
function headerAt(flat: readonly string[], name: string): number {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return i;
  return -1;
}

function byteLength(b: string | Uint8Array): number {
  return typeof b === 'string' ? Buffer.byteLength(b) : b.byteLength;
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
  ) {}
  get remoteAddress(): string {
    return (this.address ??= this.query.ask(this.id));
  }
}

/**
 * The app (and whatever it calls upstream) sees the request id hostd logs as X-Request-Id: the
 * client's when it was sane, otherwise the one the front made (it travels beside the headers).
 */
function withRequestId(flat: string[], requestId: string): void {
  const at = headerAt(flat, 'x-request-id');
  if (at >= 0) flat[at + 1] = requestId;
  else flat.push('x-request-id', requestId);
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return `non-Error thrown: ${String(err)}`;
}

function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  throw new TypeError('response body chunks must be Uint8Array or string');
}

export class WorkerServer {
  private readonly reqs = new IdTable<WorkerRequest>();
  private dirty: WorkerRequest[] = [];
  private readonly waits = new Set<Promise<unknown>>();
  private retiring = false;
  private drainedSent = false;

  constructor(
    private readonly fetch: FetchHandler,
    private readonly env: Record<string, string>,
    private readonly mount: string,
    private readonly out: P.Outbox,
    /** Shared watermark: the id of the last request handed to the app (see ServeTask.started). */
    private readonly started: Float64Array,
    private readonly addresses: AddressQuery,
  ) {
    // Dirty responses are turned into messages right before the outbox posts its batch.
    out.beforeFlush = () => this.flushDirty();
  }

  log(level: number, text: string, requestId = ''): void {
    this.out.push4(P.LOG, level, text, requestId);
  }

  /** ctx.waitUntil: keeps the worker from retiring before the promise settles. */
  private readonly waitUntil = (p: Promise<unknown>): void => {
    const tracked = Promise.resolve(p).then(noop, (err) => this.log(P.LOG_ERROR, `waitUntil promise rejected: ${errorText(err)}`));
    this.waits.add(tracked);
    void tracked.finally(() => {
      this.waits.delete(tracked);
      this.maybeDrained();
    });
  };

  onBatch(batch: unknown[]): void {
    const n = batch.length;
    let i = 0;
    while (i < n) {
      const tag = batch[i] as number;
      switch (tag) {
        case P.REQ_HEAD: {
          this.start(batch[i + 1] as number, batch[i + 2] as string, batch[i + 3] as string, batch[i + 4] as string[], batch[i + 5] as string | null, batch[i + 6] as string, batch[i + 7] as boolean);
          break;
        }
        case P.REQ_BODY: {
          const r = this.reqs.get(batch[i + 1] as number);
          const chunk = batch[i + 2] as ArrayBuffer;
          if (r && r.body) r.body.push(new Uint8Array(chunk));
          break;
        }
        case P.REQ_END: {
          const r = this.reqs.get(batch[i + 1] as number);
          if (r && r.body) r.body.end();
          break;
        }
        case P.ABORT:
          this.abort(batch[i + 1] as number);
          break;
        case P.RES_CREDIT: {
          const r = this.reqs.get(batch[i + 1] as number);
          if (r) {
            r.unacked -= batch[i + 2] as number;
            if (r.creditWait !== null && r.unacked < P.RESPONSE_WINDOW) {
              const w = r.creditWait;
              r.creditWait = null;
              w();
            }
          }
          break;
        }
        case P.PING:
          this.out.push2(P.PONG, batch[i + 1]);
          break;
        case P.BUF_RETURN:
          recycle(batch[i + 1] as ArrayBuffer);
          break;
        case P.RETIRE:
          this.retiring = true;
          this.maybeDrained();
          break;
        default:
          this.log(P.LOG_ERROR, `hostd worker: unknown message tag ${String(tag)}`);
          return;
      }
      i += 1 + P.FIELDS[tag];
    }
  }

  private start(id: number, method: string, url: string, flat: string[], remoteAddress: string | null, requestId: string, hasBody: boolean): void {
    this.started[0] = id; // before any app code runs: the front must never replay this one
    withRequestId(flat, requestId);
    const r = new WorkerRequest(id, method === 'HEAD', requestId);
    this.reqs.set(id, r);
    if (hasBody) {
      r.body = new BodyFeeder((bytes) => {
        if (!r.finished) this.out.push3(P.REQ_CREDIT, id, bytes);
      });
    }
    let request: Request;
    if (canBeLight(method, url, flat)) {
      request = new LightRequest(method, url, flat, r.signal, r.body) as unknown as Request;
    } else {
      // Unusual method, URL or header values: undici's Request normalises them (or refuses: 400).
      try {
        const headers = new Headers();
        for (let k = 0; k < flat.length; k += 2) headers.append(flat[k], flat[k + 1]);
        const init: RequestInit & { duplex?: 'half' } = { method, headers };
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
    const ctx = new RequestCtx(this.waitUntil, this.mount, requestId, remoteAddress, this.addresses, id);
    let result: Response | Promise<Response>;
    try {
      result = this.fetch(request, this.env, ctx);
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
        r.responded = true;
        r.status = parts.status;
        r.headers = parts.headers;
        this.whole(r, parts.body, res);
        return;
      }
      res = realResponse(res); // throws for a body already handed over: respond() answers 500
    }
    r.responded = true;
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

  /** A response whose whole body is known now: one RES_FULL. `light`: the LightResponse that owns `body`. */
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
        if (r.unacked >= P.RESPONSE_WINDOW) await new Promise<void>((resolve) => (r.creditWait = resolve));
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
        this.out.transferOwned(whole.buffer as ArrayBuffer);
        return whole;
      }
      if (whole.byteLength < TRANSFER_MIN) {
        // Structured clone copies a view's whole ArrayBuffer: slice partial views first.
        return whole.byteOffset === 0 && whole.byteLength === whole.buffer.byteLength ? whole : whole.slice();
      }
      const owned = copyOwned(whole);
      this.out.transferOwned(owned.buffer as ArrayBuffer);
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
    if (total >= TRANSFER_MIN) this.out.transferOwned(owned.buffer as ArrayBuffer);
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
          this.out.push5(P.RES_FULL, r.id, r.status, r.headers, body);
          this.finish(r);
          continue;
        }
        this.out.push4(P.RES_HEAD, r.id, r.status, r.headers);
      }
      if (body !== null) this.out.push3(P.RES_BODY, r.id, body);
      if (r.ended) {
        this.out.push2(P.RES_END, r.id);
        this.finish(r);
      }
    }
  }

  /** The request failed in the worker: the front answers `status` (or cuts the connection if the head went out). */
  private fail(r: WorkerRequest, status: number, detail: string): void {
    if (r.finished) return;
    this.out.push4(P.RES_ERROR, r.id, status, detail);
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
    if (this.retiring) this.maybeDrained();
  }

  private abort(id: number): void {
    const r = this.reqs.get(id);
    if (!r) return;
    r.aborted = true;
    this.finish(r);
    const reason = new DOMException('The client went away', 'AbortError');
    r.signal.abort(reason);
    if (r.body) r.body.error(reason);
    if (r.reader) r.reader.cancel(reason).catch(noop);
  }

  private maybeDrained(): void {
    if (this.retiring && !this.drainedSent && this.reqs.size === 0 && this.waits.size === 0) {
      this.drainedSent = true;
      this.out.push1(P.DRAINED);
    }
  }
}
