// Compression of app responses, in the worker that made them (the front only writes bytes): the
// worker has the request's Accept-Encoding and the response headers at hand, and the zlib work
// runs on libuv's threadpool, off both the worker's and the fronts' event loops. A streamed
// response (server-sent events included) is compressed chunk by chunk, each chunk flushed.
import { Buffer } from 'node:buffer';
import {
  addVaryAcceptEncoding,
  compressBody,
  negotiateEncoding,
  StreamCompressor,
  weakEtag,
  type Coding,
} from '../../shared/compress/index.js';
import type { ResolvedCompression } from '../../shared/config/types.js';
import { headerAt, setHeader } from './response-parts.js';

/** What the request says about compression: its Accept-Encoding, and whether it asks for a range. */
export interface CompressRequest {
  acceptEncoding: string;
  isRange: boolean;
}

function get(flat: readonly string[], name: string): string {
  const at = headerAt(flat, name);
  return at < 0 ? '' : flat[at + 1];
}

function remove(flat: string[], name: string): void {
  for (let at = headerAt(flat, name); at >= 0; at = headerAt(flat, name)) flat.splice(at, 2);
}

/**
 * Decides the coding of a response (size: body bytes, -1 for a stream) and rewrites its headers
 * for it: Vary: Accept-Encoding whenever the answer depends on it; with a coding, Content-Encoding,
 * no Content-Length, and a weak ETag (the compressed bytes are not the app's). Returns the coding.
 */
export function encodeHeaders(
  flat: string[],
  status: number,
  size: number,
  req: CompressRequest,
  settings: ResolvedCompression,
): Coding | null {
  const choice = negotiateEncoding(
    {
      acceptEncoding: req.acceptEncoding,
      contentType: get(flat, 'content-type'),
      contentEncoding: get(flat, 'content-encoding'),
      cacheControl: get(flat, 'cache-control'),
      size,
      isRange: req.isRange,
      status,
    },
    settings,
  );
  if (choice.vary) setHeader(flat, 'vary', addVaryAcceptEncoding(get(flat, 'vary')));
  if (choice.coding === null) return null;
  setHeader(flat, 'content-encoding', choice.coding);
  remove(flat, 'content-length');
  const etag = get(flat, 'etag');
  if (etag !== '') setHeader(flat, 'etag', weakEtag(etag));
  return choice.coding;
}

/** A whole body, compressed on the threadpool. */
export function compressWhole(body: string | Uint8Array, coding: Coding, settings: ResolvedCompression): Promise<Uint8Array> {
  return compressBody(typeof body === 'string' ? Buffer.from(body) : body, coding, settings.level);
}

export function streamCompressor(coding: Coding, settings: ResolvedCompression): StreamCompressor {
  return new StreamCompressor(coding, settings.level);
}
