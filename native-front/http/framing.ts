// Request framing (request smuggling, issue 9) and the answer that refuses it.
//
// uWS v20.30 takes the first of two Content-Length headers and reads "chunked, gzip", "xchunked"
// or "chunkedx" as chunked: forms a proxy in front may read differently, so that bytes it sends
// as one request's body run here as a second request. hostd refuses every such request itself.
//
// Refusing takes care with the pinned uWS: an answer ended with "close the connection" *inside*
// the request handler does not stop uWS from parsing the bytes already read after that request:
// it routes them as the next request and the close is forgotten (checked on the wire). So the
// refusal is answered on a later tick. If bytes of a next request are already there, uWS closes
// the connection itself (a request pipelined behind an unanswered one; see docs/operations.md)
// and neither is answered; otherwise the 400 goes out and the connection closes after it.
// Either way nothing after the refused request is ever parsed as a request.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { sendStatus } from './answer.js';

const DECIMAL = /^[0-9]{1,15}$/;

/**
 * How a request says its body is framed (`headers`: name, value, name, value, ... lowercase names,
 * as uWS's forEach gives them), or why that is refused: anything but at most one decimal
 * Content-Length, or Transfer-Encoding exactly "chunked" without a Content-Length.
 */
export function framing(headers: readonly string[]): { length: number; chunked: boolean } | string {
  let length = -1;
  let chunked = false;
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i];
    if (k === 'content-length') {
      if (length >= 0) return 'more than one Content-Length';
      const v = headers[i + 1];
      if (!DECIMAL.test(v)) return 'a Content-Length that is not a decimal number';
      length = Number(v);
    } else if (k === 'transfer-encoding') {
      if (chunked) return 'more than one Transfer-Encoding';
      if (headers[i + 1].toLowerCase() !== 'chunked') return 'a Transfer-Encoding other than "chunked"';
      chunked = true;
    }
  }
  if (chunked && length >= 0) return 'both Content-Length and Transfer-Encoding';
  return { length, chunked };
}

let collected: string[] = [];
const collect = (k: string, v: string): void => {
  collected.push(k, v);
};

/**
 * For requests the front answers without an app (static files, 404s, redirects): why their
 * framing is refused, or "" when it is fine. Two header reads for a request without a body; the
 * whole header list only when it has Content-Length or Transfer-Encoding.
 */
export function refusedFraming(req: HttpRequest): string {
  if (req.getHeader('content-length') === '' && req.getHeader('transfer-encoding') === '') return '';
  collected = [];
  req.forEach(collect);
  const f = framing(collected);
  collected = [];
  return typeof f === 'string' ? f : '';
}

/**
 * Answers `status` with Connection: close on a later tick (see the top of this file) and calls
 * `done` with the status and body bytes sent, or 499 and 0 when uWS closed the connection first.
 * Registers the response's onAborted: call it instead of answering, inside the request handler.
 */
export function refuseAndClose(
  res: HttpResponse,
  status: number,
  head: boolean,
  done: (status: number, bytes: number) => void,
  headers?: Record<string, string>,
): void {
  let over = false;
  res.onAborted(() => {
    if (over) return;
    over = true;
    done(499, 0);
  });
  setImmediate(() => {
    if (over) return;
    over = true;
    done(status, sendStatus(res, status, { close: true, head, headers }));
  });
}
