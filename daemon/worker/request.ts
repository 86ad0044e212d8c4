// One request in a worker, from its head to the last message about it, and the `ctx` its app gets.
import type { StreamCompressor } from '../../shared/compress/index.js';
import type { AddressQuery } from '../../shared/protocol/address-query.js';
import { TRANSFER_MIN } from '../../shared/protocol/index.js';
import type { AppContext, UpgradeOptions } from '../app/types.js';
import type { BodyFeeder } from './body-feeder.js';
import { allocOwned, copyOwned } from './buffer-pool.js';
import type { CompressRequest } from './compress-response.js';
import { LazySignal } from './light-request.js';
import type { FrontLink } from './link.js';
import type { WorkerServer } from './server.js';
import type { PendingUpgrade } from './ws/connection.js';

/** What the link asks of a node exchange (daemon/worker/node-exchange.ts). */
export interface RequestExchange {
  /**
   * Right before the head goes out: decides whether the body is whole or streamed. False: not
   * ready yet (it marks the request dirty again later). It runs inside the outbox's flush, so it
   * must not mark the request dirty itself (no new flush would come).
   */
  prepare(): boolean;
  /** The client went away. */
  abort(): void;
}

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
  /** What the request says about compression (null: the mount does not compress). */
  compress: CompressRequest | null = null;
  compressor: StreamCompressor | null = null;
  /** Set by ctx.upgrade(): once fetch returns, the request becomes a WebSocket (daemon/worker/ws). */
  upgrade: PendingUpgrade | null = null;
  /** A node-style app's exchange (node-exchange.ts), when the request took the direct path. */
  exchange: RequestExchange | null = null;
  /** exchange.prepare() runs before the head goes out (set when the app has written its head). */
  preparing = false;
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

  /** Adds streamed body bytes to what goes out with the next flush (counted against the credit window). */
  addPending(bytes: Uint8Array): void {
    (this.pending ??= []).push(bytes);
    this.pendingBytes += bytes.byteLength;
    this.unacked += bytes.byteLength;
  }

  /**
   * Takes the buffered response bytes as one chunk, transferring a copy we own when that pays
   * (`transfer` puts the buffer in the batch's transfer list).
   */
  takeBody(transfer: (ab: ArrayBuffer) => void): string | Uint8Array | null {
    const whole = this.whole;
    if (whole !== null) {
      this.whole = null;
      if (typeof whole === 'string') return whole; // strings are cheap to clone: no encoding here
      if (this.transferWhole) {
        transfer(whole.buffer as ArrayBuffer);
        return whole;
      }
      if (whole.byteLength < TRANSFER_MIN) {
        // Structured clone copies a view's whole ArrayBuffer: slice partial views first.
        return whole.byteOffset === 0 && whole.byteLength === whole.buffer.byteLength ? whole : whole.slice();
      }
      const owned = copyOwned(whole);
      transfer(owned.buffer as ArrayBuffer);
      return owned;
    }
    const parts = this.pending;
    if (parts === null || this.pendingBytes === 0) return null;
    const total = this.pendingBytes;
    this.pending = null;
    this.pendingBytes = 0;
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
    if (total >= TRANSFER_MIN) transfer(owned.buffer as ArrayBuffer);
    return owned;
  }
}

/** The `ctx` an app gets. The client address comes with the request, or is asked for on first use. */
export class RequestCtx implements AppContext {
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
    return this.server.ws?.upgrade(this.r, this.remoteAddress, request, options) ?? false;
  }
  get publish(): AppContext['publish'] {
    return this.server.ws!.publishFromApp;
  }
}
