// Writing a cached response into a uWS HttpResponse: synchronous, a handful of native calls
// (status, one preformatted header block, Age + X-Cache, body), no per-hit string building
// beyond the Age value. The only uWS-specific part of the cache.
//
// Per hit: the representation (identity, or a br/gzip form already made, see entry.pick), the
// client's conditionals (If-None-Match with weak comparison, else If-Modified-Since: 304), and a
// single Range on the identity bytes (206/416; multi-range gets the whole body, as static does).
//
// Bodyless answers (HEAD, 304, 204) end through the front's toolkit (http/answer.ts), which knows
// uWS v20.30's quirks.
import type { HttpResponse } from 'uWebSockets.js';
import { endBodyless } from '../http/answer.js';
import { statusLine } from '../http/status.js';
import { addVaryAcceptEncoding } from '../../shared/compress/index.js';
import { noneMatch, notModifiedSince } from '../static/conditional.js';
import { decideRange, ifRangeAllows } from '../static/ranges.js';
import type { CachedEntry, CodingIndex, XCacheLabel } from './entry.js';
import type { ResponseCache } from './response-cache.js';

/** The request headers a hit reads; uWS's HttpRequest or a HeaderSnapshot. */
export interface HitRequest {
  getHeader(lowerCaseName: string): string;
}

/** Status and body bytes written, for the access log. Reused by every call: read it at once. */
export interface HitWritten {
  status: number;
  bytes: number;
}

const written: HitWritten = { status: 0, bytes: 0 };
const EMPTY = Buffer.alloc(0);
const CODING_NAMES = ['', 'gzip', 'br'] as const;
/** Headers of the stored response that a 304 repeats (RFC 9110 §15.4.5), besides ETag and Vary. */
const IN_304 = new Set(['cache-control', 'content-location', 'expires', 'last-modified']);

/** "Age" header value with the X-Cache line after it, memoised per cache, label and age. */
const ageLines = new WeakMap<ResponseCache, Map<string, string>>();
function ageLine(cache: ResponseCache, age: number, label: XCacheLabel): string {
  if (cache.header === null) return String(age);
  let m = ageLines.get(cache);
  if (m === undefined) ageLines.set(cache, (m = new Map()));
  const key = label + age;
  let line = m.get(key);
  if (line === undefined) {
    line = `${age}\r\n${cache.header}: ${label}`;
    if (m.size >= 4096) m.clear();
    m.set(key, line);
  }
  return line;
}

/** Vary as served: the origin's, plus Accept-Encoding when hostd may compress the body. */
function varyOf(e: CachedEntry): string {
  const v = e.header('vary');
  return e.candidate ? addVaryAcceptEncoding(v) : v;
}

/**
 * The header block of a 200/206 answer for coding `c`: every stored header, with ETag, Vary
 * and Content-Encoding as served, as one "v1\r\nName2: v2..." value (uWS writes a value
 * verbatim, so one writeHeader call carries them all). Built once per entry and coding.
 */
function buildBlock(e: CachedEntry, c: CodingIndex): void {
  const lines: string[] = [];
  const h = e.headers;
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i];
    if (n === 'etag' || n === 'vary' || (n === 'content-encoding' && c !== 0)) continue;
    lines.push(n, h[i + 1]);
  }
  const etag = e.etagOf(c);
  if (etag !== '') lines.push('etag', etag);
  const vary = varyOf(e);
  if (vary !== '') lines.push('vary', vary);
  if (c !== 0) lines.push('content-encoding', CODING_NAMES[c]);
  if (lines.length === 0) {
    e.blocks[c] = EMPTY;
    e.blockNames[c] = '';
    return;
  }
  let text = lines[1];
  for (let i = 2; i < lines.length; i += 2) text += `\r\n${lines[i]}: ${lines[i + 1]}`;
  e.blocks[c] = Buffer.from(text, 'latin1');
  e.blockNames[c] = lines[0];
}

/** The 304 header block for coding `c` (ETag, Vary, Cache-Control, Expires, Last-Modified, Content-Location). */
function block304(e: CachedEntry, c: CodingIndex): string {
  const memo = e.blocks304[c];
  if (memo !== null) return memo;
  let text = e.etagOf(c);
  const h = e.headers;
  for (let i = 0; i < h.length; i += 2) if (IN_304.has(h[i])) text += `\r\n${h[i]}: ${h[i + 1]}`;
  const vary = varyOf(e);
  if (vary !== '') text += `\r\nvary: ${vary}`;
  e.blocks304[c] = text;
  return text;
}

function writeBlock(res: HttpResponse, e: CachedEntry, c: CodingIndex): void {
  if (e.blocks[c] === null) buildBlock(e, c);
  const name = e.blockNames[c]!;
  if (name !== '') res.writeHeader(name, e.blocks[c]!);
}

/**
 * Writes a hit (or a stale answer, `label` STALE) from `e`. Must run corked: inside the uWS
 * handler it is; from a later tick use sendHit. Returns the reused HitWritten.
 */
export function writeHit(res: HttpResponse, cache: ResponseCache, e: CachedEntry, req: HitRequest, isHead: boolean, label: XCacheLabel): HitWritten {
  const ok = e.status === 200;
  const range = ok && !isHead ? req.getHeader('range') : '';
  const c: CodingIndex = range !== '' ? 0 : e.pick(req.getHeader('accept-encoding'));
  const age = ageLine(cache, e.age(cache.now()), label);

  if (ok && notModified(e, c, req)) {
    res.writeStatus('304 Not Modified');
    res.writeHeader('ETag', block304(e, c));
    res.writeHeader('Age', age);
    endBodyless(res, 304, -1, false);
    written.status = 304;
    written.bytes = 0;
    return written;
  }

  if (range !== '') {
    const ifRange = req.getHeader('if-range');
    if (ifRange === '' || ifRangeAllows(ifRange, e.etag, e.lastModified)) {
      const size = e.body.length;
      const d = decideRange(size, range);
      if (d.kind === 'partial') {
        res.writeStatus('206 Partial Content');
        res.writeHeader('Content-Range', `bytes ${d.start}-${d.end}/${size}`);
        writeBlock(res, e, 0);
        res.writeHeader('Age', age);
        res.end(e.body.subarray(d.start, d.end + 1));
        written.status = 206;
        written.bytes = d.end + 1 - d.start;
        return written;
      }
      if (d.kind === 'unsatisfiable') {
        res.writeStatus('416 Range Not Satisfiable');
        res.writeHeader('Content-Range', `bytes */${size}`);
        res.writeHeader('Content-Type', 'text/plain; charset=utf-8');
        res.writeHeader('Age', age);
        res.end('Range Not Satisfiable\n');
        written.status = 416;
        written.bytes = 22;
        return written;
      }
    }
  }

  if (!ok) res.writeStatus(statusLine(e.status));
  writeBlock(res, e, c);
  res.writeHeader('Age', age);
  const body = c === 0 ? e.body : e.coded[c]!;
  written.status = e.status;
  if (isHead || e.status === 204) {
    endBodyless(res, e.status, body.length, false);
    written.bytes = 0;
  } else {
    res.end(body);
    written.bytes = body.length;
  }
  return written;
}

/** writeHit inside its own cork (for answers written after an await: waiters, 304 renewals). */
export function sendHit(res: HttpResponse, cache: ResponseCache, e: CachedEntry, req: HitRequest, isHead: boolean, label: XCacheLabel): HitWritten {
  res.cork(() => writeHit(res, cache, e, req, isHead, label));
  return written;
}

function notModified(e: CachedEntry, c: CodingIndex, req: HitRequest): boolean {
  const inm = req.getHeader('if-none-match');
  if (inm !== '') {
    const tag = e.etagOf(c);
    return tag !== '' && noneMatch(inm, tag);
  }
  const ims = req.getHeader('if-modified-since');
  if (ims === '') return false;
  const lm = e.lastModified;
  if (lm === '') return false;
  const t = Date.parse(lm);
  return !Number.isNaN(t) && notModifiedSince(ims, lm, t);
}

/**
 * A 304 for a client whose conditional matched a response being fetched (FillDecision
 * `notModified`): the validators and caching headers of `headers` (flat, from the origin), and
 * X-Cache: MISS. Must run corked.
 */
export function writeNotModified(res: HttpResponse, cache: ResponseCache, headers: readonly string[]): void {
  res.writeStatus('304 Not Modified');
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const n = headers[i].toLowerCase();
    if (n === 'etag' || n === 'vary' || IN_304.has(n)) res.writeHeader(n, headers[i + 1]);
  }
  if (cache.header !== null) res.writeHeader(cache.header, 'MISS');
  endBodyless(res, 304, -1, false);
}
