// The worker side of the wire protocol: turns REQ_* messages into real `Request`s, calls the app,
// and streams each `Response` back, coalescing everything produced in one tick into one batch.
import type { AppContext, FetchHandler } from '../app/types.js';
import * as P from '../../shared/protocol.js';
import { BodyFeeder } from './body-feeder.js';

const noop = () => {};
/** Chunks below this are structured-cloned; above it we copy once into a buffer we own and transfer it. */
const TRANSFER_MIN = 4096;

/** One request in this worker. */
class WorkerRequest {
  readonly signal = new LazySignal();
  body: BodyFeeder | null = null;
  status = 200;
  headers: string[] | null = null;
  responded = false; // the app handed us a Response
  headSent = false;
  pending: Uint8Array[] = [];
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

// ---- fast paths (measured: together they roughly double worker throughput for small responses)
//
// 1. request.signal: undici's Request makes its own AbortController, and following a second
//    signal (RequestInit.signal) costs a WeakRef, a FinalizationRegistry entry and listeners:
//    it halved Request construction here. Instead requests are a Request subclass whose
//    `signal` getter creates a controller on first use; the front's ABORT aborts it. (A Request
//    derived from this one, e.g. `new Request(req)`, follows undici's internal signal, which
//    does not abort on disconnect.)
//
// 2. Response bodies given as a string or bytes (new Response('hi'), Response.json(...)) are
//    taken straight from undici's body source instead of being pumped through the
//    ReadableStream reader (several promise turns per response). Feature-detected once via
//    undici's internal `state` symbol; anything unusual falls back to the reader.

class LazySignal {
  ac: AbortController | null = null;
  get signal(): AbortSignal {
    return (this.ac ??= new AbortController()).signal;
  }
  abort(reason: unknown): void {
    (this.ac ??= new AbortController()).abort(reason);
  }
}

/** A real Request (brand checks, instanceof) whose `signal` is created on first use. */
class HostdRequest extends Request {
  #lazy: LazySignal;
  constructor(url: string, init: RequestInit, lazy: LazySignal) {
    super(url, init);
    this.#lazy = lazy;
  }
  override get signal(): AbortSignal {
    return this.#lazy.signal;
  }
}

const stateSymbol: symbol | undefined = (() => {
  try {
    const probe = new Response('probe');
    const sym = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'state');
    if (sym === undefined) return undefined;
    const st = (probe as unknown as Record<symbol, { body?: { source?: unknown } }>)[sym];
    return st?.body?.source === 'probe' ? sym : undefined;
  } catch {
    return undefined;
  }
})();

/** The whole body when the Response was built from a string or bytes and nobody touched its stream. */
function directBody(res: Response): Uint8Array | null {
  if (stateSymbol === undefined || res.bodyUsed) return null;
  const body = (res as unknown as Record<symbol, { body?: { source?: unknown; stream?: ReadableStream } | null }>)[stateSymbol]?.body;
  if (!body || body.stream?.locked) return null;
  const src = body.source;
  if (typeof src === 'string') return Buffer.from(src, 'utf8');
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  return null;
}

function flatHeaders(h: Headers): string[] {
  const out: string[] = [];
  // The Fetch spec's iterator yields each Set-Cookie separately (and combines the others).
  for (const [k, v] of h) out.push(k, v);
  return out;
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
  private readonly reqs = new Map<number, WorkerRequest>();
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
          this.start(batch[i + 1] as number, batch[i + 2] as string, batch[i + 3] as string, batch[i + 4] as string[], batch[i + 5] as string, batch[i + 6] as string, batch[i + 7] as boolean);
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

  private start(id: number, method: string, url: string, flat: string[], remoteAddress: string, requestId: string, hasBody: boolean): void {
    this.started[0] = id; // before any app code runs: the front must never replay this one
    const r = new WorkerRequest(id, method === 'HEAD', requestId);
    this.reqs.set(id, r);
    let request: Request;
    try {
      const headers = new Headers();
      for (let k = 0; k < flat.length; k += 2) headers.append(flat[k], flat[k + 1]);
      const init: RequestInit & { duplex?: 'half' } = { method, headers };
      if (hasBody) {
        r.body = new BodyFeeder((bytes) => {
          if (!r.finished) this.out.push3(P.REQ_CREDIT, id, bytes);
        });
        init.body = r.body.stream;
        init.duplex = 'half';
      }
      request = new HostdRequest(url, init, r.signal);
    } catch (err) {
      this.fail(r, 400, `bad request: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const ctx: AppContext = { waitUntil: this.waitUntil, remoteAddress, mount: this.mount, requestId };
    let result: Response | Promise<Response>;
    try {
      result = this.fetch(request, this.env, ctx);
    } catch (err) {
      this.fail(r, 500, errorText(err));
      return;
    }
    if (result instanceof Response) this.respond(r, result);
    else
      Promise.resolve(result).then(
        (res) => this.respond(r, res),
        (err) => this.fail(r, 500, errorText(err)),
      );
  }

  private respond(r: WorkerRequest, res: Response): void {
    if (r.finished) {
      if (res instanceof Response && res.body) res.body.cancel().catch(noop);
      return;
    }
    if (!(res instanceof Response)) {
      this.fail(r, 500, `the app did not return a Response (got ${res === null ? 'null' : typeof res})`);
      return;
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
      if (whole.byteLength > 0) {
        r.pending.push(whole);
        r.pendingBytes = whole.byteLength;
      }
      r.ended = true;
      this.markDirty(r);
      return;
    }
    const body = res.body;
    if (body === null) {
      r.ended = true;
      this.markDirty(r);
      return;
    }
    r.reader = body.getReader();
    this.markDirty(r); // the head goes out this tick even if the first chunk takes a while (SSE)
    void this.pump(r);
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
        r.pending.push(bytes);
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
  private takePending(r: WorkerRequest): Uint8Array | null {
    if (r.pendingBytes === 0) return null;
    const parts = r.pending;
    const total = r.pendingBytes;
    r.pending = [];
    r.pendingBytes = 0;
    if (parts.length === 1 && total < TRANSFER_MIN) {
      const c = parts[0];
      // Structured clone copies a view's whole ArrayBuffer: slice partial views first.
      return c.byteOffset === 0 && c.byteLength === c.buffer.byteLength ? c : c.slice();
    }
    const owned = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      owned.set(p, off);
      off += p.byteLength;
    }
    if (total >= TRANSFER_MIN) this.out.transferOwned(owned.buffer);
    return owned;
  }

  private flushDirty(): void {
    const list = this.dirty;
    if (list.length === 0) return;
    this.dirty = [];
    for (const r of list) {
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
    r.pending = [];
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
