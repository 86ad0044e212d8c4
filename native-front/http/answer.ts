// Ending uWS responses, with the workarounds the pinned uWS v20.30 needs (checked on the wire):
// - res.end(body) on a HEAD request sends the body anyway, which corrupts the next response on a
//   keep-alive connection;
// - res.endWithoutBody(n) with a length leaves the connection unusable, and any argument that is
//   not a number (undefined included) aborts the whole process;
// so bodyless answers write Content-Length by hand and call endWithoutBody() with no argument,
// and "close after this response" is a Connection: close header the client honours.
import { Buffer } from 'node:buffer';
import type { HttpResponse } from 'uWebSockets.js';
import { statusLine, writeStatus } from './status.js';

/**
 * Ends a response with no body on the wire (HEAD, 204, 304). `contentLength` is the length a
 * GET would have had (-1: unknown, none written). Must run corked, after status and headers.
 */
export function endBodyless(res: HttpResponse, status: number, contentLength: number, close: boolean): void {
  if (contentLength >= 0 && status !== 204 && status !== 304) res.writeHeader('Content-Length', String(contentLength));
  if (close) res.writeHeader('Connection', 'close');
  res.endWithoutBody();
}

/**
 * Ends with a whole body, or for HEAD with just its length. Returns the body bytes sent. Must
 * run corked, after status and headers.
 */
export function endWith(res: HttpResponse, body: string | Uint8Array, head: boolean, close: boolean): number {
  const n = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  if (head) {
    endBodyless(res, 200, n, close);
    return 0;
  }
  res.end(body, close);
  return n;
}

export interface StatusOptions {
  /** The body; default "404 Not Found\n" and the like. */
  body?: string;
  /** Its Content-Type; default plain text. */
  type?: string;
  headers?: Readonly<Record<string, string>>;
  /** A HEAD request: the length, not the body. */
  head?: boolean;
  /** Close the connection after this answer (the request body was not read). */
  close?: boolean;
}

/**
 * A short plain-text answer (errors, redirects, the router's own answers). Corks itself, so it is
 * safe both inside a handler and from a later tick. Returns the body bytes sent (access log).
 */
export function sendStatus(res: HttpResponse, status: number, opts: StatusOptions = {}): number {
  const body = opts.body ?? `${statusLine(status)}\n`;
  let sent = 0;
  res.cork(() => {
    writeStatus(res, status);
    res.writeHeader('Content-Type', opts.type ?? 'text/plain; charset=utf-8');
    res.writeHeader('X-Content-Type-Options', 'nosniff');
    if (opts.headers) for (const k in opts.headers) res.writeHeader(k, opts.headers[k]);
    sent = endWith(res, body, opts.head === true, opts.close === true);
  });
  return sent;
}
