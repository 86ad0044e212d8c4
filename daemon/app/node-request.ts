// A fetch Request's head given to node:http's IncomingMessage the way node:http's own parser
// would fill it: method, version, the mount-relative path (with Express's originalUrl/baseUrl)
// and the header lines with Node's duplicate rules. Separate from the adapter (node-adapter.ts),
// which runs the exchange (body, response, abort): this is the request's shape only.
import type { IncomingMessage } from 'node:http';

/**
 * The request path the app sees. Mounted node apps get the path relative to the mount, the way
 * mod_wsgi splits SCRIPT_NAME/PATH_INFO and Express strips a sub-app's mount path: an Express
 * app written for "/" works unchanged at "/api". req.originalUrl keeps the full path and
 * req.baseUrl the mount (Express keeps both when they are already set).
 */
export function stripMount(pathAndQuery: string, mount: string): string {
  if (!mount || mount === '/') return pathAndQuery;
  if (!pathAndQuery.startsWith(mount)) return pathAndQuery;
  const rest = pathAndQuery.slice(mount.length);
  if (rest === '') return '/';
  if (rest[0] === '/') return rest;
  if (rest[0] === '?') return '/' + rest;
  return pathAndQuery; // "/apiary" is not under "/api"
}

/** Fills `req` (fresh, not yet given to the app) from `request`, whose URL is `url`, at `mount`. */
export function setRequestHead(req: IncomingMessage, request: Request, url: URL, mount: string): void {
  const fullPath = url.pathname + url.search;
  req.method = request.method;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  req.url = stripMount(fullPath, mount);
  const extra = req as unknown as Record<string, unknown>;
  extra.originalUrl = fullPath;
  if (mount && mount !== '/') extra.baseUrl = mount;

  const raw: string[] = [];
  let sawHost = false;
  for (const [name, value] of request.headers) {
    if (name === 'host') sawHost = true;
    if (name === 'set-cookie') continue; // not a request header
    raw.push(name, value);
  }
  if (!sawHost) raw.push('host', url.host);
  // A fetch Request does not list Content-Length among its headers; a node server would see
  // one or Transfer-Encoding, and body parsers (type-is's hasBody) skip bodies without either.
  if (request.body !== null && !request.headers.has('content-length') && !request.headers.has('transfer-encoding')) {
    raw.push('transfer-encoding', 'chunked');
  }
  // _addHeaderLines is how node:http's own parser fills headers/rawHeaders; it applies Node's
  // duplicate rules (cookie joined with "; ", others with ", ").
  (req as unknown as { _addHeaderLines(h: string[], n: number): void })._addHeaderLines(raw, raw.length);
}
