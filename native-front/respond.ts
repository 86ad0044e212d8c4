// Short plain-text error and status responses, shared by the router, static files and dispatch.
import type { HttpResponse } from 'uWebSockets.js';

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 206: 'Partial Content',
  301: 'Moved Permanently', 302: 'Found', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  413: 'Content Too Large', 416: 'Range Not Satisfiable', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

const statusLines = new Map<number, string>();

/** "404 Not Found", memoised: uWS wants the whole status line. */
function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `${status} ${STATUS_TEXT[status] ?? 'Unknown'}`;
    statusLines.set(status, line);
  }
  return line;
}

/** Writes the status line; uWS writes "200 OK" itself when none is given, one native call fewer. */
export function writeStatus(res: HttpResponse, status: number): void {
  if (status !== 200) res.writeStatus(statusLine(status));
}

/**
 * Ends `res` with a short text body ("404 Not Found\n" by default). Corks itself, so it is safe
 * both inside a handler and from a later tick. Returns the body length for the access log.
 */
export function sendStatus(
  res: HttpResponse,
  status: number,
  opts: { body?: string; headers?: Record<string, string>; head?: boolean; close?: boolean } = {},
): number {
  const body = opts.body ?? `${statusLine(status)}\n`;
  res.cork(() => {
    writeStatus(res, status);
    res.writeHeader('Content-Type', 'text/plain; charset=utf-8');
    res.writeHeader('X-Content-Type-Options', 'nosniff');
    if (opts.headers) for (const k in opts.headers) res.writeHeader(k, opts.headers[k]);
    // HEAD: uWS v20.30's endWithoutBody(length) leaves the connection unusable, end(body)
    // sends the body anyway, and endWithoutBody(undefined, ...) (any argument that is not a
    // number) aborts the whole process ("Returning from a request handler without
    // responding"). So: Content-Length by hand, endWithoutBody() with no argument at all, and
    // for `close` a Connection: close header the client honours.
    if (opts.head) {
      res.writeHeader('Content-Length', String(Buffer.byteLength(body)));
      if (opts.close) res.writeHeader('Connection', 'close');
      res.endWithoutBody();
    } else res.end(body, opts.close);
  });
  return opts.head ? 0 : Buffer.byteLength(body);
}
