// A lightweight `Request` for worker threads (the technique of @hono/node-server's request.ts).
//
// Why: undici's Request constructor parses the URL, builds a Headers list, an AbortController
// that follows another signal (WeakRef + FinalizationRegistry), and a ReadableStream for the
// body: the bulk of the per-request cost in the worker for small requests, although most apps
// read only method, url and a header or two.
//
// How: the app gets a LightRequest whose prototype chain runs to undici's Request.prototype
// (`instanceof Request` holds). method and url are plain strings, headers a Headers built on
// first use from the flat list the front sent, signal hostd's own lazily created one (it aborts
// when the client goes away), and arrayBuffer()/text()/json()/bytes() read the body straight
// from the BodyFeeder. Anything else (body, clone(), formData(), blob(), cache, mode, ...)
// builds the real Request, once, and from then on answers from it. Only requests undici would
// take unchanged get a light one (common methods, a URL already in canonical form, plain header
// values); the rest are built as real Requests at once, so undici's normalisation and errors
// (400) stay exactly what they were.
//
// In the worker, globalThis.Request becomes a subclass that accepts a light request as input
// (`new Request(request, init)`), and globalThis.fetch unwraps one, since undici reads its own
// internal slots from a Request it is given.
import type { BodyFeeder } from './body-feeder.js';
import { forwardToReal } from './delegate.js';

export const GlobalRequest: typeof Request = globalThis.Request;

/** request.signal: created on first use; the front's ABORT aborts it. */
export class LazySignal {
  ac: AbortController | null = null;
  get signal(): AbortSignal {
    return (this.ac ??= new AbortController()).signal;
  }
  abort(reason: unknown): void {
    (this.ac ??= new AbortController()).abort(reason);
  }
}

/**
 * A real Request (brand checks, instanceof) whose `signal` is hostd's lazy one. undici's own
 * signal would follow a second signal (RequestInit.signal) through a WeakRef, a
 * FinalizationRegistry entry and listeners; this halves construction. (A Request derived from
 * this one, e.g. `new Request(req)`, follows undici's internal signal, which does not abort on
 * disconnect.)
 */
export class HostdRequest extends GlobalRequest {
  #lazy: LazySignal;
  constructor(url: string, init: RequestInit, lazy: LazySignal) {
    super(url, init);
    this.#lazy = lazy;
  }
  override get signal(): AbortSignal {
    return this.#lazy.signal;
  }
}

const FAST_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PLAIN_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;
/**
 * URLs the WHATWG parser leaves exactly as they are: http(s), a lowercase host name (or a
 * canonical IPv4 address), a non-default port without leading zeros, and a path and query made
 * of characters it does not percent-encode. Dot segments and IDNA names are left to the parser.
 */
const CANONICAL_URL =
  /^(https?):\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::([1-9]\d{0,4}))?(\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)(\?[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*)?$/;
const NUMERIC_LABEL = /(?:^|\.)(?:\d+|0x[0-9a-f]*)$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const DOT_SEGMENT = /\/\.|%2e/i;

/** True when `new URL(url).href === url` is certain without parsing. */
export function isCanonicalUrl(url: string): boolean {
  const m = CANONICAL_URL.exec(url);
  if (m === null) return false;
  const host = m[2];
  if (host.includes('xn--')) return false;
  if (NUMERIC_LABEL.test(host) && !IPV4.test(host)) return false; // IPv4 forms the parser rewrites
  const port = m[3];
  if (port !== undefined) {
    const n = Number(port);
    if (n > 65535 || (m[1] === 'http' ? n === 80 : n === 443)) return false;
  }
  return !DOT_SEGMENT.test(m[4]);
}

/** Whether undici would take these request parts unchanged (else: build the real Request now). */
export function canBeLight(method: string, url: string, flat: readonly string[]): boolean {
  if (!FAST_METHODS.has(method) || !isCanonicalUrl(url)) return false;
  for (let i = 0; i < flat.length; i += 2) {
    if (!TOKEN.test(flat[i]) || !PLAIN_VALUE.test(flat[i + 1])) return false;
  }
  return true;
}

const noop = () => {};
const decoder = new TextDecoder(); // as undici's text(): UTF-8, BOM stripped, invalid bytes replaced

let isLight: (v: unknown) => v is LightRequest;
let realOf: (r: LightRequest) => Request;

export class LightRequest {
  #method: string;
  #url: string;
  #flat: readonly string[];
  #headers: Headers | null = null;
  #lazy: LazySignal;
  #feeder: BodyFeeder | null;
  /** The body was read through the fast path. */
  #used = false;
  #real: Request | null = null;

  /** Internal: the worker builds these; apps never see this constructor (globalThis.Request is not it). */
  constructor(method: string, url: string, flat: readonly string[], lazy: LazySignal, feeder: BodyFeeder | null) {
    this.#method = method;
    this.#url = url;
    this.#flat = flat;
    this.#lazy = lazy;
    this.#feeder = feeder;
  }

  static {
    isLight = (v: unknown): v is LightRequest => typeof v === 'object' && v !== null && #real in v;
    realOf = (r: LightRequest): Request => r.#materialize();
  }

  #materialize(): Request {
    if (this.#real !== null) return this.#real;
    const init: RequestInit & { duplex?: 'half' } = { method: this.#method, headers: this.headers };
    if (this.#feeder !== null) {
      init.duplex = 'half';
      if (this.#used) {
        // Read already (arrayBuffer() & co.): the real one must say so too.
        init.body = new ReadableStream({ start: (c) => c.close() });
      } else init.body = this.#feeder.stream;
    }
    const real = new HostdRequest(this.#url, init, this.#lazy);
    if (this.#used) real.arrayBuffer().catch(noop); // disturbs it: bodyUsed true, further reads reject
    this.#real = real;
    return real;
  }

  get method(): string {
    return this.#method;
  }
  get url(): string {
    return this.#url;
  }
  get headers(): Headers {
    if (this.#headers === null) {
      const hs = new Headers();
      const f = this.#flat;
      for (let i = 0; i < f.length; i += 2) hs.append(f[i], f[i + 1]);
      this.#headers = hs;
    }
    return this.#headers;
  }
  get signal(): AbortSignal {
    return this.#lazy.signal;
  }
  get body(): ReadableStream<Uint8Array> | null {
    if (this.#feeder === null) return null;
    return this.#materialize().body;
  }
  get bodyUsed(): boolean {
    if (this.#real !== null) return this.#real.bodyUsed;
    return this.#used;
  }

  /** The fast path for whole-body reads: straight from the feeder, no stream. */
  #bytes(): Promise<Uint8Array> {
    if (this.#feeder === null) return Promise.resolve(new Uint8Array(0));
    if (this.#used) return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
    this.#used = true;
    return this.#feeder.collect();
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#real !== null) return this.#real.arrayBuffer();
    return this.#bytes().then((b) =>
      b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? (b.buffer as ArrayBuffer) : (b.slice().buffer as ArrayBuffer),
    );
  }
  bytes(): Promise<Uint8Array> {
    if (this.#real !== null) return (this.#real as unknown as { bytes(): Promise<Uint8Array> }).bytes();
    return this.#bytes();
  }
  text(): Promise<string> {
    if (this.#real !== null) return this.#real.text();
    return this.#bytes().then((b) => decoder.decode(b));
  }
  json(): Promise<unknown> {
    if (this.#real !== null) return this.#real.json();
    return this.#bytes().then((b) => JSON.parse(decoder.decode(b)) as unknown);
  }

  static {
    forwardToReal(LightRequest.prototype, GlobalRequest.prototype, (self) => self.#materialize());
    if (!('bytes' in GlobalRequest.prototype)) delete (LightRequest.prototype as { bytes?: unknown }).bytes;
    Object.setPrototypeOf(LightRequest.prototype, GlobalRequest.prototype);
    Object.defineProperty(LightRequest, 'name', { value: 'Request' });
  }
}

export { isLight as isLightRequest, realOf as realRequest };

/** globalThis.Request in the worker: undici's, taking a light request as input too. */
export class WorkerRequestClass extends GlobalRequest {
  constructor(input: RequestInfo | URL, init?: RequestInit) {
    super(isLight(input) ? realOf(input) : input, init);
  }
  static override [Symbol.hasInstance](this: unknown, v: unknown): boolean {
    if (this !== WorkerRequestClass) return Function.prototype[Symbol.hasInstance].call(this, v); // an app's subclass
    return v instanceof GlobalRequest;
  }
  static {
    Object.defineProperty(WorkerRequestClass, 'name', { value: 'Request' });
  }
}
