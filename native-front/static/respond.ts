// Writing static answers into uWS responses: the response plan (which representation, which
// status, which bytes) and the header writers for each kind of answer. Bodyless endings go
// through the front's response toolkit (http/answer.ts), which knows uWS v20.30's quirks.
import { Buffer } from 'node:buffer';
import type { HttpResponse } from 'uWebSockets.js';
import { endBodyless, endWith } from '../http/answer.js';
import { noneMatch, notModifiedSince } from './conditional.js';
import { chooseCoding } from './encoding.js';
import type { Representation, StaticResource } from './file-cache.js';
import { decideRange, ifRangeAllows } from './ranges.js';

/** Anything with uWS's getHeader: the live HttpRequest, or a snapshot taken before going async. */
export interface HeaderSource {
  getHeader(lowerCaseKey: string): string;
}

/** The request headers a static answer depends on, copied out of the HttpRequest. */
export class HeaderSnapshot implements HeaderSource {
  private readonly acceptEncoding: string;
  private readonly ifNoneMatch: string;
  private readonly ifModifiedSince: string;
  private readonly range: string;
  private readonly ifRange: string;
  constructor(req: HeaderSource) {
    this.acceptEncoding = req.getHeader('accept-encoding');
    this.ifNoneMatch = req.getHeader('if-none-match');
    this.ifModifiedSince = req.getHeader('if-modified-since');
    this.range = req.getHeader('range');
    this.ifRange = req.getHeader('if-range');
  }
  getHeader(name: string): string {
    switch (name) {
      case 'accept-encoding':
        return this.acceptEncoding;
      case 'if-none-match':
        return this.ifNoneMatch;
      case 'if-modified-since':
        return this.ifModifiedSince;
      case 'range':
        return this.range;
      case 'if-range':
        return this.ifRange;
      default:
        return '';
    }
  }
}

/** What to answer. Reused (mutable) on the synchronous hit path to avoid an allocation. */
export interface Plan {
  status: 200 | 206 | 304 | 416;
  rep: Representation;
  /** Inclusive byte range of rep to send (the whole file for 200). */
  start: number;
  end: number;
}

/**
 * Picks the representation (Accept-Encoding), evaluates If-None-Match / If-Modified-Since,
 * then Range / If-Range. Ranges apply to the chosen representation: a range request that
 * negotiates br gets bytes of the .br file, with that file's own ETag and Content-Range.
 * Headers are read lazily, so a plain GET reads three.
 */
export function planResponse(h: HeaderSource, r: StaticResource, isGet: boolean, out: Plan): void {
  let rep = r.identity;
  if (r.vary) {
    const coding = chooseCoding(h.getHeader('accept-encoding'), r.br !== null, r.gzip !== null);
    if (coding === 'br') rep = r.br!;
    else if (coding === 'gzip') rep = r.gzip!;
    // Ranges of a form hostd compressed itself come from the identity bytes (encoding.ts).
    if (rep.generated === true && isGet && h.getHeader('range') !== '') rep = r.identity;
  }
  out.rep = rep;
  out.start = 0;
  out.end = rep.size - 1;
  const inm = h.getHeader('if-none-match');
  if (inm !== '') {
    if (noneMatch(inm, rep.etag)) {
      out.status = 304;
      return;
    }
  } else {
    const ims = h.getHeader('if-modified-since');
    if (ims !== '' && notModifiedSince(ims, rep.lastModified, rep.mtimeMs)) {
      out.status = 304;
      return;
    }
  }
  out.status = 200;
  if (!isGet) return; // Range is defined for GET only
  const range = h.getHeader('range');
  if (range === '') return;
  const ifRange = h.getHeader('if-range');
  if (ifRange !== '' && !ifRangeAllows(ifRange, rep.etag, rep.lastModified)) return;
  const d = decideRange(rep.size, range);
  if (d.kind === 'partial') {
    out.status = 206;
    out.start = d.start;
    out.end = d.end;
  } else if (d.kind === 'unsatisfiable') {
    out.status = 416;
  }
}

const TEXT = 'text/plain; charset=utf-8';

/**
 * Validators and caching headers every answer about the resource carries (304 included), as
 * header lines from the ETag value on: uWS writes a header as `name: value CRLF` verbatim, so a
 * value holding the next lines writes them all in one native call. Every value comes from hostd
 * (validators, MIME type, the mount's config), none from a request.
 */
function validatorLines(r: StaticResource, rep: Representation, cacheControl: string): string {
  let lines = `${rep.etag}\r\nLast-Modified: ${rep.lastModified}`;
  if (cacheControl !== '') lines += `\r\nCache-Control: ${cacheControl}`;
  if (r.vary) lines += '\r\nVary: Accept-Encoding';
  return lines;
}

function writeValidators(res: HttpResponse, r: StaticResource, rep: Representation, cacheControl: string): void {
  res.writeHeader('ETag', validatorLines(r, rep, cacheControl));
}

/**
 * The headers every 200/206 answer of `rep` carries, from the Content-Type value on (see
 * validatorLines), kept as UTF-8 bytes: one native call and no string conversions instead of
 * five or more of each, measured ~5% of the front's time on small static hits.
 */
function headBlock(r: StaticResource, rep: Representation, cacheControl: string): Buffer {
  const memo = rep.head;
  if (memo !== null && memo.cacheControl === cacheControl) return memo.bytes;
  let block = `${r.contentType}\r\nAccept-Ranges: bytes`;
  if (rep.coding !== '') block += `\r\nContent-Encoding: ${rep.coding}`;
  block += `\r\nETag: ${validatorLines(r, rep, cacheControl)}`;
  const bytes = Buffer.from(block, 'utf8');
  rep.head = { cacheControl, bytes };
  return bytes;
}

/** Status and headers of a 200/206 answer; the caller sends the body. Must run corked. */
export function writeHead(res: HttpResponse, r: StaticResource, p: Plan, cacheControl: string): void {
  if (p.status === 206) {
    res.writeStatus('206 Partial Content');
    res.writeHeader('Content-Range', `bytes ${p.start}-${p.end}/${p.rep.size}`);
  }
  res.writeHeader('Content-Type', headBlock(r, p.rep, cacheControl));
}

/**
 * Answers 304 / 416 / HEAD without a body (bodies of 200/206 GETs are the caller's). Returns
 * the body bytes sent. Must run corked.
 */
export function writeBodyless(res: HttpResponse, r: StaticResource, p: Plan, cacheControl: string, isGet: boolean, close: boolean): number {
  if (p.status === 304) {
    res.writeStatus('304 Not Modified');
    writeValidators(res, r, p.rep, cacheControl);
    endBodyless(res, 304, -1, close);
    return 0;
  }
  if (p.status === 416) {
    res.writeStatus('416 Range Not Satisfiable');
    res.writeHeader('Content-Range', p.rep.unsatisfiedRange);
    res.writeHeader('Content-Type', TEXT);
    writeValidators(res, r, p.rep, cacheControl);
    return endWith(res, 'Range Not Satisfiable\n', !isGet, close);
  }
  // HEAD 200
  writeHead(res, r, p, cacheControl);
  endBodyless(res, 200, p.rep.size, close);
  return 0;
}
