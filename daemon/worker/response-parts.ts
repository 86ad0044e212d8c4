// Reading what an app's Response holds without pumping it through a reader where that can be
// avoided, and the small helpers the worker's request code shares.
import { Buffer } from 'node:buffer';
import { GlobalResponse } from './light-response.js';

// Real Responses (from fetch(), a stream body, or a light one the app read) built from a string
// or bytes are taken from undici's body source rather than pumped through a reader (several
// promise turns per response). Feature-detected once via undici's internal `state` symbol;
// anything unusual falls back to the reader.
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
export function directBody(res: Response): string | Uint8Array | null {
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
export function headerAt(flat: readonly string[], name: string): number {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return i;
  return -1;
}

/** Sets `name` (lowercase) in a flat header list, replacing the first occurrence. */
export function setHeader(flat: string[], name: string, value: string): void {
  const at = headerAt(flat, name);
  if (at >= 0) flat[at + 1] = value;
  else flat.push(name, value);
}

/** A response head as it travels to the front (see shared/protocol/table.ts TO_FRONT). */
export interface ResponseHead {
  name: string;
  rest: string;
  contentLength: number;
}

const DECIMAL = /^[0-9]{1,15}$/;

/**
 * The head block of a flat header list: header lines joined for one uWS writeHeader call, minus
 * the framing headers uWS owns (Content-Length is returned apart, -1 when absent or not a
 * number). Names and values were validated when the Response or the node response was built
 * (undici's Headers, node's setHeader): no CR or LF can reach the block.
 */
export function responseHead(flat: readonly string[]): ResponseHead {
  let name = '';
  let rest = '';
  let contentLength = -1;
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i];
    const v = flat[i + 1];
    switch (k) {
      case 'content-length':
        if (DECIMAL.test(v)) contentLength = Number(v);
        continue;
      case 'transfer-encoding':
      case 'connection':
      case 'keep-alive':
        continue;
    }
    if (name === '') {
      name = k;
      rest = v;
    } else rest += `\r\n${k}: ${v}`;
  }
  return { name, rest, contentLength };
}

export function byteLength(b: string | Uint8Array): number {
  return typeof b === 'string' ? Buffer.byteLength(b) : b.byteLength;
}

export function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  throw new TypeError('response body chunks must be Uint8Array or string');
}

/**
 * The URL a fetch app sees on a mount: the path below the prefix (mod_wsgi's PATH_INFO), as
 * Hono's app.mount() and Express's app.use(prefix, sub) hand it to a sub-app. `url` is absolute.
 */
export function mountRelative(url: string, mount: string): string {
  if (mount === '') return url;
  const pathAt = url.indexOf('/', url.indexOf('//') + 2);
  if (pathAt < 0 || !url.startsWith(mount, pathAt)) return url;
  const rest = url.slice(pathAt + mount.length);
  // "/shop" and "/shop?x" become "/" and "/?x"; "/shop/cart" becomes "/cart".
  return url.slice(0, pathAt) + (rest === '' || rest[0] === '?' ? `/${rest}` : rest);
}
