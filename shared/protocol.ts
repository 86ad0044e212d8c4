// The wire protocol between the front (main thread) and a daemon worker, over one long-lived
// MessagePort per worker.
//
// Encoding: each postMessage carries one *batch*: a flat array of messages laid end to end,
// every message being a numeric tag followed by a fixed number of fields (see FIELDS). A whole
// tick's worth of traffic for a port goes in one postMessage: structured clone of one array of
// primitives is far cheaper than one message (and one event) per request. ArrayBuffers the
// sender owns (copies it made) go in the transfer list instead of being copied again.
//
// Request ids are per pool, increasing; a worker sees the ids assigned to it in increasing order,
// which is what makes the `started` watermark meaningful.
import type { MessagePort } from 'node:worker_threads';

// ---- front -> worker ----
/**
 * id, method, url (absolute), headers (flat [k, v, ...], as the client sent them), remoteAddress
 * (null until the pool's app has asked for one, see address-query.ts), requestId (the worker
 * sets it as X-Request-Id), hasBody
 */
export const REQ_HEAD = 1;
/** id, chunk (ArrayBuffer, transferred) */
export const REQ_BODY = 2;
/** id: the request body is complete */
export const REQ_END = 3;
/** id: the client went away (or the front gave up on it): request.signal aborts */
export const ABORT = 4;
/** id, bytes: the front wrote this many response bytes to the socket (response backpressure) */
export const RES_CREDIT = 5;
/** seq: liveness probe, answered with PONG from the worker's event loop */
export const PING = 6;
/** (no fields) finish what is in flight, await waitUntil promises, then answer DRAINED */
export const RETIRE = 7;
/** buffer (ArrayBuffer, transferred): a RES_FULL body buffer the front is done with, for reuse */
export const BUF_RETURN = 8;

// ---- worker -> front ----
/** id, status, headers (flat; Set-Cookie may repeat) */
export const RES_HEAD = 10;
/** id, chunk (Uint8Array or transferred ArrayBuffer) */
export const RES_BODY = 11;
/** id */
export const RES_END = 12;
/** id, status, headers, body (string | Uint8Array | null): head, whole body and end in one message */
export const RES_FULL = 13;
/** id, status, detail: the request failed in the worker (status applies if no head was sent) */
export const RES_ERROR = 14;
/** id, bytes: the app consumed this many request-body bytes (upload backpressure) */
export const REQ_CREDIT = 15;
// (16 was STARTED; which requests a worker has handed to the app is now a shared-memory
// watermark, see ServeTask.started: a message would arrive too late when the app's first
// synchronous slice never returns.)
/** seq */
export const PONG = 17;
/** level (LOG_*), text, requestId ("" when unknown) */
export const LOG = 18;
/** threadId, loadError ("" when the app loaded), interface ("fetch" | "node" | "") */
export const READY = 19;
/** (no fields) retirement complete; the front terminates the thread */
export const DRAINED = 20;
/** id, seq: the app asked for the client address of a request sent without it (address-query.ts) */
export const ADDR_QUERY = 21;

export const LOG_INFO = 0;
export const LOG_WARN = 1;
export const LOG_ERROR = 2;

/** Number of fields after the tag, indexed by tag. */
export const FIELDS: readonly number[] = (() => {
  const f: number[] = [];
  f[REQ_HEAD] = 7;
  f[REQ_BODY] = 2;
  f[REQ_END] = 1;
  f[ABORT] = 1;
  f[RES_CREDIT] = 2;
  f[PING] = 1;
  f[RETIRE] = 0;
  f[BUF_RETURN] = 1;
  f[RES_HEAD] = 3;
  f[RES_BODY] = 2;
  f[RES_END] = 1;
  f[RES_FULL] = 4;
  f[RES_ERROR] = 3;
  f[REQ_CREDIT] = 2;
  f[PONG] = 1;
  f[LOG] = 3;
  f[READY] = 3;
  f[DRAINED] = 0;
  f[ADDR_QUERY] = 2;
  return f;
})();

/**
 * Response bodies of at least this many bytes travel in a buffer the worker owns and transfers
 * (smaller ones are structured-cloned); RES_FULL bodies that size come back in BUF_RETURN.
 */
export const TRANSFER_MIN = 4096;

/** Bytes of response body a worker may have outstanding (sent, not yet credited) per request. */
export const RESPONSE_WINDOW = 1 << 20;
/** Bytes of request body the front may have outstanding (sent or buffered, not credited) per request. */
export const UPLOAD_WINDOW = 1 << 20;

/** The task handed to the worker entry through piscina, once per worker. */
export interface ServeTask {
  kind: 'serve';
  port: MessagePort;
  modulePath: string;
  interface: 'fetch' | 'node' | 'auto';
  mount: string;
  env: Record<string, string>;
  cacheDir?: string;
  /** The module compiled once by the pool (TypeScript/JSX); unset: the worker loads modulePath itself. */
  entry?: string;
  /**
   * 8 bytes shared with the front: a Float64 the worker sets to a request's id right before
   * handing it to the app. When a worker dies or is killed, requests above it were never started
   * and can be re-dispatched safely; it is exact even when the app never yields (busy loop, OOM).
   */
  started: SharedArrayBuffer;
  /** Where the front answers ADDR_QUERY (address-query.ts). */
  address: SharedArrayBuffer;
}

/** `hostd check`: load the module once and report. */
export interface CheckTask {
  kind: 'check';
  modulePath: string;
  interface: 'fetch' | 'node' | 'auto';
  cacheDir?: string;
}

export interface CheckResult {
  ok: boolean;
  error?: string;
  interface?: 'fetch' | 'node';
  /** What the app printed while loading, one entry per console call or stream write. */
  output: string[];
}

/**
 * Per-port outbox: messages pushed during a tick go out as one postMessage on setImmediate
 * (after the poll phase, so every request uWS parsed in this loop iteration shares a batch).
 */
export class Outbox {
  private buf: unknown[] = [];
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;
  private closed = false;
  /** Runs right before a batch is posted: lets the owner turn buffered state into messages. */
  beforeFlush: (() => void) | null = null;
  private readonly flushBound = () => this.flush();

  constructor(private readonly port: { postMessage(value: unknown, transfer?: readonly ArrayBuffer[]): void }) {}

  /** Appends raw fields (tag first). Use the typed helpers at call sites for clarity. */
  push1(a: unknown): void {
    this.buf.push(a);
    this.schedule();
  }
  push2(a: unknown, b: unknown): void {
    this.buf.push(a, b);
    this.schedule();
  }
  push3(a: unknown, b: unknown, c: unknown): void {
    this.buf.push(a, b, c);
    this.schedule();
  }
  push4(a: unknown, b: unknown, c: unknown, d: unknown): void {
    this.buf.push(a, b, c, d);
    this.schedule();
  }
  push5(a: unknown, b: unknown, c: unknown, d: unknown, e: unknown): void {
    this.buf.push(a, b, c, d, e);
    this.schedule();
  }
  push8(a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown, g: unknown, h: unknown): void {
    this.buf.push(a, b, c, d, e, f, g, h);
    this.schedule();
  }
  /** Marks an ArrayBuffer already pushed as transferable (the sender must not touch it again). */
  transferOwned(ab: ArrayBuffer): void {
    this.transfer.push(ab);
  }

  /** Schedules a flush without pushing anything (beforeFlush will have something to say). */
  wake(): void {
    this.schedule();
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  flush(): void {
    // `scheduled` stays set while beforeFlush pushes, so its messages join this batch instead of
    // scheduling another immediate.
    if (this.closed) {
      this.scheduled = false;
      return;
    }
    if (this.beforeFlush !== null) this.beforeFlush();
    this.scheduled = false;
    if (this.buf.length === 0) return;
    const batch = this.buf;
    const transfer = this.transfer;
    this.buf = [];
    if (transfer.length > 0) {
      this.transfer = [];
      this.port.postMessage(batch, transfer);
    } else {
      this.port.postMessage(batch);
    }
  }

  close(): void {
    this.closed = true;
    this.buf = [];
    this.transfer = [];
  }
}
