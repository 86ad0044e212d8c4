// The few node:http internals hostd's node adapters reach into, found once per worker: the
// symbols ServerResponse keeps its headers and its "needs drain" flag under (not exported by
// node:http, so read off a probe object by their descriptions), and what node:http's server does
// with them around a socket.
import { type IncomingMessage, ServerResponse } from 'node:http';

const probe = new ServerResponse({ method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1, headers: {} } as IncomingMessage);
probe.setHeader('x', '1'); // the header map is created on first use
const symbols = Object.getOwnPropertySymbols(probe);

/** Where ServerResponse keeps its headers (name → [name, value]). */
export const kOutHeaders: symbol | undefined = symbols.find((s) => s.description === 'kOutHeaders');
const kNeedDrain: symbol | undefined = symbols.find((s) => s.description === 'kNeedDrain');

/**
 * 'drain' on a response whose write() returned false, as node:http's server forwards its socket's
 * 'drain': the flag is cleared first, so the next write() that fills up reports it again.
 */
export function emitDrain(res: ServerResponse): void {
  if (!res.writableNeedDrain) return;
  if (kNeedDrain !== undefined) (res as unknown as Record<symbol, boolean>)[kNeedDrain] = false;
  res.emit('drain');
}

/** The error a write or a body read gets once the client has gone away. */
export function abortError(): Error {
  const err = new Error('The client aborted the request');
  err.name = 'AbortError';
  return err;
}
