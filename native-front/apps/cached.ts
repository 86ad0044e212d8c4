// An app mount's response cache on this front (native-front/cache): what the app mount does for
// each lookup outcome, and the exchange that refreshes a stale entry in the background (a
// request to the app with no client waiting for it).
import type { Dispatcher } from '../../daemon/dispatch/dispatcher.js';
import type { Exchange, Ticket } from '../../daemon/dispatch/types.js';
import type { Logger } from '../../shared/log.js';
import type { HttpResponse } from 'uWebSockets.js';
import {
  sendHit,
  writeNotModified,
  type CachedEntry,
  type Filler,
  type HeaderSnapshot,
  type ResponseCache,
  type XCacheLabel,
} from '../cache/index.js';

/** The flat header list of a head block (see TO_FRONT in the protocol), Content-Length included when known. */
export function headHeaders(name: string, rest: string, contentLength: number): string[] {
  const flat: string[] = [];
  if (name !== '') {
    const lines = rest.split('\r\n');
    flat.push(name, lines[0]);
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(': ');
      flat.push(line.slice(0, colon), line.slice(colon + 2));
    }
  }
  if (contentLength >= 0) flat.push('content-length', String(contentLength));
  return flat;
}

/**
 * The request headers for a fetch that fills the cache: the filler's (client conditionals and
 * Range out, the cache's own conditionals in) minus Accept-Encoding, so the app answers with
 * identity bytes and the cache makes each client's coding itself (one entry serves them all).
 * A pass (an Authorization request, a URL found uncacheable) keeps Accept-Encoding: its answer
 * is the client's, compressed by the worker (kept, when it may be, as a variant of that coding).
 */
export function fillHeaders(filler: Filler, flat: readonly string[]): string[] {
  const out = filler.applyTo(flat);
  if (filler.purpose === 'pass') return out;
  for (let i = 0; i < out.length; i += 2) {
    if (out[i] === 'accept-encoding') {
      out.splice(i, 2);
      i -= 2;
    }
  }
  return out;
}

/**
 * A client's request that fills the cache (or revalidates its stale entry): the app's answer is
 * streamed to the client and fed to the filler. The filler's decision on the head may be to
 * answer from the cache instead (a 304 renewed the entry; stale-if-error).
 */
export class CacheTap {
  constructor(
    readonly cache: ResponseCache,
    readonly filler: Filler,
    /** The request's headers, for answering from an entry after the handler returned. */
    readonly request: HeaderSnapshot,
  ) {}

  /** Writes an entry as the answer (corks itself); returns status and bytes for ctx.done. */
  serve(res: HttpResponse, entry: CachedEntry, isHead: boolean, label: XCacheLabel): { status: number; bytes: number } {
    const w = sendHit(res, this.cache, entry, this.request, isHead, label);
    return { status: w.status, bytes: w.bytes };
  }

  /** A 304 for the client whose conditional matches what the app sent (the fill goes on). */
  notModified(res: HttpResponse, flat: readonly string[]): void {
    res.cork(() => writeNotModified(res, this.cache, flat));
  }
}

/** A stale-while-revalidate refresh: the app's answer goes into the cache only. */
export class RefreshExchange implements Exchange {
  id = 0;
  ticket: Ticket | null = null;
  readonly arrival = performance.now();
  finished = false;
  readonly bodySent = false;
  readonly hasBody = false;
  readonly remoteAddress = '';
  readonly knownRemoteAddress = null;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly filler: Filler,
    private readonly log: Logger,
    readonly method: string,
    readonly url: string,
    readonly headers: string[],
    readonly requestId: string,
  ) {}

  dispatched(): void {}

  resHead(status: number, headName: string, headRest: string, contentLength: number): void {
    this.filler.head(status, headHeaders(headName, headRest, contentLength));
  }

  resBody(chunk: Uint8Array): void {
    this.filler.body(chunk);
    this.dispatcher.credit(this, chunk.byteLength);
  }

  resEnd(): void {
    this.finished = true;
    this.filler.end();
  }

  resFull(status: number, headName: string, headRest: string, contentLength: number, body: string | Uint8Array | null): void {
    this.finished = true;
    const bytes = body === null ? null : typeof body === 'string' ? Buffer.from(body) : body;
    const d = this.filler.head(status, headHeaders(headName, headRest, bytes?.byteLength ?? contentLength));
    if (d.kind === 'stream') {
      if (bytes !== null) this.filler.body(bytes);
      this.filler.end();
    }
  }

  resError(status: number, detail: string): void {
    this.fail(status, detail);
  }

  uploadCredit(): void {}

  fail(status: number, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.filler.abort(new Error(reason));
    this.log.warn('cache refresh failed; the stale entry stays', { status, reason, url: this.url });
  }
}

export type { ResponseCache };
