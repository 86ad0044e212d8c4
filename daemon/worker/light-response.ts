// A lightweight `Response` for worker threads (the technique of @hono/node-server's response.ts).
//
// Why: undici's Response constructor builds a ReadableStream, a Headers list and several
// internal records for every response, even `new Response('hi')`: measured as the biggest single
// cost of a small dynamic response in the worker. Most apps build a response from a string or
// bytes and hand it straight back; hostd then only needs (status, headers, body).
//
// How: globalThis.Response is replaced in the worker by this class. Its prototype chain runs to
// undici's Response.prototype (and `instanceof Response` is answered by undici's brand), so apps
// see a Response. A body that is a string, bytes or nothing, with a plain `init`, is only
// recorded; anything else (streams, Blob, FormData, unusual init) builds the real Response at
// once, so every validation error is undici's own, thrown at the same point. The real Response
// is also built, lazily, as soon as the app uses anything but status/ok/headers (body, text(),
// clone(), ...), and from then on every property is the real one's.
//
// The serve loop reads a still-light response through lightParts(): no stream, no reader, no
// promise turns.

import { TRANSFER_MIN } from '../../shared/protocol/index.js';
import { copyOwned } from './buffer-pool.js';
import { forwardToReal } from './delegate.js';

export const GlobalResponse: typeof Response = globalThis.Response;

/** What undici adds for a string body (Content-Type when the app set none). */
const TEXT_PLAIN = 'text/plain;charset=UTF-8';
const JSON_TYPE = 'application/json';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Header values undici keeps as they are: no surrounding whitespace, no CR/LF/NUL, bytes only. */
const PLAIN_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;
const UPPER = /[A-Z]/;

export interface LightParts {
  status: number;
  /** Flat [name, value, ...], lowercase names, in the order undici's Headers iterates them. */
  headers: string[];
  /** The whole body: a string or bytes this module owns (a copy of what the app gave), or null. */
  body: string | Uint8Array | null;
}

type PlainHeaders = Record<string, string>;

/**
 * Copies bytes the way undici does (a snapshot: the app may reuse its buffer afterwards); large
 * bodies go into the worker's transfer buffers (buffer-pool.ts), which the serve loop hands over.
 */
function ownBytes(body: unknown): Uint8Array | null {
  let src: Uint8Array;
  if (body instanceof ArrayBuffer) src = new Uint8Array(body);
  else if (ArrayBuffer.isView(body)) src = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  else return null;
  return src.byteLength >= TRANSFER_MIN ? copyOwned(src) : src.slice();
}

/** A plain {name: value} object whose entries undici would take unchanged (modulo case). */
function plainHeaders(h: unknown): PlainHeaders | null {
  if (typeof h !== 'object' || h === null) return null;
  const proto = Object.getPrototypeOf(h);
  if (proto !== Object.prototype && proto !== null) return null;
  for (const k in h) {
    if (!Object.hasOwn(h, k)) return null; // inherited enumerables: let undici decide
    const v = (h as Record<string, unknown>)[k];
    if (typeof v !== 'string' || !TOKEN.test(k) || !PLAIN_VALUE.test(v)) return null;
  }
  return h as PlainHeaders;
}

/** Flat, lowercase, sorted (undici's Headers iteration order), duplicates by case combined. */
function flattenPlain(h: PlainHeaders | null, defaultType: string | null): string[] {
  const out: string[] = [];
  let sawType = false;
  let needsSort = false;
  let caseFolded = false;
  let prev = '';
  if (h !== null) {
    for (const k in h) {
      let name = k;
      if (UPPER.test(k)) {
        name = k.toLowerCase();
        caseFolded = true;
      }
      if (name === 'content-type') sawType = true;
      if (name < prev) needsSort = true;
      prev = name;
      out.push(name, h[k]);
    }
  }
  if (!sawType && defaultType !== null) {
    if (prev > 'content-type') needsSort = true;
    out.push('content-type', defaultType);
  }
  if (!needsSort && !caseFolded) return out;
  return viaHeaders(out);
}

/** The general case: let undici's Headers combine and order them. */
function viaHeaders(flat: string[]): string[] {
  const hs = new Headers();
  for (let i = 0; i < flat.length; i += 2) hs.append(flat[i], flat[i + 1]);
  return flatHeaders(hs);
}

export function flatHeaders(h: Headers): string[] {
  const out: string[] = [];
  // The Fetch spec's iterator yields each Set-Cookie separately (and combines the others).
  for (const [k, v] of h) out.push(k, v);
  return out;
}

let isLight: (v: unknown) => boolean;
let partsOf: (r: Response) => LightParts | null;
let realOf: (r: Response) => Response;
let takeBody: (r: Response) => void;

export class LightResponse {
  /** The undici Response once built; from then on it answers everything. */
  #real: Response | null = null;
  #status = 200;
  #body: string | Uint8Array | null = null;
  /** The body bytes were handed over (transferred) to the front: this response cannot be sent again. */
  #taken = false;
  /** init.headers as given (a validated plain object), until #headers is built. */
  #plain: PlainHeaders | null = null;
  #headers: Headers | null = null;
  /** Content-Type undici adds when the headers have none (string body, Response.json). */
  #type: string | null = null;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    let type: string | null = null;
    let bytes: string | Uint8Array | null = null;
    if (body === undefined || body === null) bytes = null;
    else if (typeof body === 'string') {
      bytes = body;
      type = TEXT_PLAIN;
    } else if ((bytes = ownBytes(body)) === null) {
      this.#real = new GlobalResponse(body, init);
      return;
    }
    if (!this.#fastInit(init, bytes !== null)) {
      this.#real = new GlobalResponse(body, init);
      return;
    }
    this.#body = bytes;
    this.#type = type;
  }

  #fastInit(init: ResponseInit | undefined, hasBody: boolean): boolean {
    if (init === undefined || init === null) return true;
    if (typeof init !== 'object') return false;
    const status = init.status;
    if (status !== undefined) {
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) return false;
      if (hasBody && (status === 204 || status === 205 || status === 304)) return false; // undici throws
      this.#status = status;
    }
    if (init.statusText !== undefined && init.statusText !== '') return false;
    const h = init.headers;
    if (h !== undefined) {
      if (h instanceof Headers || Array.isArray(h)) this.#headers = new Headers(h);
      else {
        const plain = plainHeaders(h);
        if (plain === null) return false;
        this.#plain = plain;
      }
    }
    return true;
  }

  static {
    isLight = (v: unknown): boolean => typeof v === 'object' && v !== null && #real in v;
    realOf = (res: Response): Response => (res as unknown as LightResponse).#materialize();
    takeBody = (res: Response): void => {
      const r = res as unknown as LightResponse;
      r.#taken = true;
      r.#body = null;
    };
    partsOf = (res: Response): LightParts | null => {
      const r = res as unknown as LightResponse;
      if (r.#real !== null || r.#taken) return null;
      let headers: string[];
      if (r.#headers !== null) headers = flatHeaders(r.#ensureHeaders());
      else headers = flattenPlain(r.#plain, r.#type);
      return { status: r.#status, headers, body: r.#body };
    };
  }

  #takenCheck(): string | Uint8Array | null {
    if (this.#taken) throw new TypeError('Body is unusable: Body has already been read');
    return this.#body;
  }

  /** Builds (once) the undici Response this one stands for. */
  #materialize(): Response {
    if (this.#real !== null) return this.#real;
    const real = new GlobalResponse(this.#takenCheck() as BodyInit | null, { status: this.#status, headers: this.#ensureHeaders() });
    this.#real = real;
    return real;
  }

  #ensureHeaders(): Headers {
    let hs = this.#headers;
    if (hs === null) {
      hs = this.#headers = new Headers(this.#plain ?? undefined);
      this.#plain = null;
    }
    if (this.#type !== null) {
      if (!hs.has('content-type')) hs.set('content-type', this.#type);
      this.#type = null;
    }
    return hs;
  }

  get status(): number {
    return this.#real !== null ? this.#real.status : this.#status;
  }
  get ok(): boolean {
    const s = this.status;
    return s >= 200 && s <= 299;
  }
  get headers(): Headers {
    return this.#real !== null ? this.#real.headers : this.#ensureHeaders();
  }

  // undici's statics answer with real Responses; json() is common enough to get a light one.
  static json(data: unknown, init?: ResponseInit): Response {
    const text = JSON.stringify(data);
    if (text === undefined) return GlobalResponse.json(data, init); // throws undici's TypeError
    const r = new LightResponse(text, init);
    if (r.#real !== null) return GlobalResponse.json(data, init);
    r.#type = JSON_TYPE;
    return r as unknown as Response;
  }
  static error(): Response {
    return GlobalResponse.error();
  }
  static redirect(url: string | URL, status?: number): Response {
    return GlobalResponse.redirect(url, status);
  }

  /** undici's brand: real Responses (from fetch(), Response.error()...) are Responses too. */
  static [Symbol.hasInstance](this: unknown, v: unknown): boolean {
    if (this !== LightResponse) return Function.prototype[Symbol.hasInstance].call(this, v); // an app's subclass
    return v instanceof GlobalResponse;
  }

  static {
    // Everything else on Response.prototype (body, bodyUsed, statusText, type, url, redirected,
    // text(), json(), arrayBuffer(), blob(), bytes(), formData(), clone(), inspect) is the real
    // Response's, built on first use.
    forwardToReal(LightResponse.prototype, GlobalResponse.prototype, (self) => self.#materialize());
    Object.setPrototypeOf(LightResponse.prototype, GlobalResponse.prototype);
    Object.setPrototypeOf(LightResponse, GlobalResponse);
    Object.defineProperty(LightResponse, 'name', { value: 'Response' });
  }
}

export { isLight as isLightResponse, partsOf as lightParts, realOf as realResponse, takeBody as markBodyTaken };
