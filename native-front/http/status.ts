// Status lines for uWS responses. uWS wants the whole line ("404 Not Found") and writes
// "200 OK" itself when none is given.
import type { HttpResponse } from 'uWebSockets.js';

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  414: 'URI Too Long',
  416: 'Range Not Satisfiable',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

const lines = new Map<number, string>();

/** "404 Not Found", memoised. */
export function statusLine(status: number): string {
  let line = lines.get(status);
  if (line === undefined) {
    line = `${status} ${STATUS_TEXT[status] ?? 'Unknown'}`;
    lines.set(status, line);
  }
  return line;
}

/** Writes the status line; for 200 uWS writes it itself, one native call fewer. */
export function writeStatus(res: HttpResponse, status: number): void {
  if (status !== 200) res.writeStatus(statusLine(status));
}

/** Responses that never carry a body on the wire. */
export function isBodyless(status: number, isHead: boolean): boolean {
  return isHead || status === 204 || status === 304 || (status >= 100 && status < 200);
}
