// --status HOST:PORT (or a Unix socket path; the CLI's default is a Unix socket in the runtime
// directory, runtime-dir.ts): an internal listener, apart from every public port, on the control
// thread, serving /healthz (200 serving, 503 draining), /status (JSON) and /metrics (Prometheus
// text), each for GET and HEAD, and POST /reload?site=NAME and /cache/purge. It may require a bearer token (--status-token-file): apps run on
// the same machine and can reach a loopback port.
import { timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { HostdError } from '../../shared/errors.js';
import { sendStatus } from '../http/answer.js';
import { loadUws } from '../http/uws.js';
import type { Host } from './host.js';
import { renderMetrics, type StatusJson } from './report.js';
import { socketInUse } from './unix-socket.js';

export interface StatusServer {
  /** The TCP port, or undefined for a Unix socket. */
  port: number | undefined;
  /** "http://127.0.0.1:9100" or "unix:/run/hostd/status.sock", for logs. */
  origin: string;
  close(): void;
}

export type StatusAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** "9100", "127.0.0.1:9100", "[::1]:9100", or a Unix socket path ("/run/hostd.sock", "unix:rel.sock"). */
export function parseStatusAddress(text: string): StatusAddress {
  if (text.startsWith('unix:')) return { kind: 'unix', path: text.slice(5) };
  if (text.startsWith('/') || text.startsWith('./')) return { kind: 'unix', path: text };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new HostdError('HOSTD_USAGE', `--status: "${text}" is not PORT, HOST:PORT or a Unix socket path`);
  return { kind: 'tcp', host: m[1] || m[2] || '127.0.0.1', port };
}

function readToken(file: string): Buffer {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new HostdError(
      'HOSTD_USAGE',
      `--status-token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (token.length < 16) throw new HostdError('HOSTD_USAGE', `--status-token-file: the token in ${file} is shorter than 16 characters`);
  return Buffer.from(token);
}

function authorized(req: HttpRequest, token: Buffer | null): boolean {
  if (token === null) return true;
  const m = /^Bearer\s+(\S+)$/i.exec(req.getHeader('authorization'));
  if (!m) return false;
  const given = Buffer.from(m[1]);
  return given.length === token.length && timingSafeEqual(given, token);
}

function reply(res: HttpResponse, status: number, type: string, body: string, head = false): void {
  sendStatus(res, status, { body, type, head, headers: { 'Cache-Control': 'no-store' } });
}

const TOKEN_REQUIRED = 'a bearer token is required\n';

/** The HTTP status of a failed site reload: what the operator must fix, or that hostd is busy. */
function reloadStatus(err: unknown): number {
  const code = err instanceof HostdError ? err.code : undefined;
  if (code === 'HOSTD_NO_SITE') return 404;
  if (code === 'HOSTD_CONFIG' || code === 'HOSTD_APP_LOAD') return 422; // the file or the app: still serving the previous one
  if (code === 'HOSTD_CLOSED') return 503;
  return 500;
}

export interface StatusServerOptions {
  /** A file holding the bearer token the listener requires. */
  tokenFile?: string;
  /**
   * A Unix socket for hostd's own user only: its folder is created mode 0700 and the socket is
   * made 0600 (the CLI's default socket, runtime-dir.ts).
   */
  private?: boolean;
}

export async function startStatusServer(host: Host, address: string, opts: StatusServerOptions = {}): Promise<StatusServer> {
  const uws = loadUws();
  const where = parseStatusAddress(address);
  const token = opts.tokenFile ? readToken(opts.tokenFile) : null;
  if (where.kind === 'unix') {
    if (await socketInUse(where.path))
      throw new HostdError('HOSTD_ADDRESS_IN_USE', `--status: ${where.path} is already served by another process (another hostd?)`);
    if (opts.private) mkdirSync(dirname(where.path), { recursive: true, mode: 0o700 });
  }
  /** Answers with the host's status, read asynchronously from the fronts. */
  const withStatus = (render: (s: StatusJson) => string, type: string, head: boolean) => (res: HttpResponse, req: HttpRequest) => {
    if (!authorized(req, token)) return reply(res, 401, 'text/plain', TOKEN_REQUIRED, head);
    let aborted = false;
    res.onAborted(() => (aborted = true));
    host.status().then(
      (s) => !aborted && reply(res, 200, type, render(s), head),
      (err: Error) => !aborted && reply(res, 500, 'text/plain', `status unavailable: ${err.message}\n`, head),
    );
  };
  const healthz = (head: boolean) => (res: HttpResponse, req: HttpRequest) => {
    if (!authorized(req, token)) return reply(res, 401, 'text/plain', TOKEN_REQUIRED, head);
    if (host.draining) reply(res, 503, 'text/plain', 'draining\n', head);
    else reply(res, 200, 'text/plain', 'ok\n', head);
  };
  const json = (s: StatusJson) => JSON.stringify(s, null, 2);
  const metricsType = 'text/plain; version=0.0.4; charset=utf-8';
  const app = uws
    .App()
    // Load balancers and `curl -I` probe with HEAD: every GET here answers it too (no body).
    .get('/healthz', healthz(false))
    .head('/healthz', healthz(true))
    .get('/status', withStatus(json, 'application/json', false))
    .head('/status', withStatus(json, 'application/json', true))
    .get('/metrics', withStatus(renderMetrics, metricsType, false))
    .head('/metrics', withStatus(renderMetrics, metricsType, true))
    // Purge of the response caches (uWS v20.30 drops a PURGE request on the public listeners, so
    // the purge goes here): POST /cache/purge?url=/path[&host=h] or ?prefix=/path[&host=h].
    .post('/cache/purge', (res, req) => {
      if (!authorized(req, token)) return reply(res, 401, 'text/plain', TOKEN_REQUIRED);
      const q = new URLSearchParams(req.getQuery() ?? '');
      const what = { url: q.get('url') ?? undefined, prefix: q.get('prefix') ?? undefined, host: q.get('host') ?? undefined };
      if (what.url === undefined && what.prefix === undefined) return reply(res, 400, 'text/plain', 'give url= or prefix=\n');
      let aborted = false;
      res.onAborted(() => (aborted = true));
      res.onData(() => {}); // a body, if any, is ignored
      host.purge(what).then(
        (purged) => !aborted && reply(res, 200, 'application/json', `${JSON.stringify({ purged })}\n`),
        (err: Error) => !aborted && reply(res, 500, 'text/plain', `purge failed: ${err.message}\n`),
      );
    })
    // One site's reload (`hostd reload NAME`): POST /reload?site=NAME[&mount=/x]. 200 with JSON
    // once its pools have rolled; 404 for an unknown site or mount; 422 with the file:line
    // problems (or the app's load error) while the previous configuration keeps serving.
    .post('/reload', (res, req) => {
      if (!authorized(req, token)) return reply(res, 401, 'text/plain', TOKEN_REQUIRED);
      const q = new URLSearchParams(req.getQuery() ?? '');
      const site = q.get('site');
      const mount = q.get('mount') ?? undefined;
      if (!site) return reply(res, 400, 'text/plain', 'give site=NAME (and mount=/x for one app mount)\n');
      let aborted = false;
      res.onAborted(() => (aborted = true));
      res.onData(() => {}); // a body, if any, is ignored
      host.reloadSite(site, { mount }).then(
        () => !aborted && reply(res, 200, 'application/json', `${JSON.stringify({ site, mount, generation: host.generation })}\n`),
        (err: Error) => !aborted && reply(res, reloadStatus(err), 'text/plain', `${err.message}\n`),
      );
    })
    .any('/*', (res, req) => reply(res, 404, 'text/plain', 'not found\n', req.getMethod() === 'head'));
  return new Promise((resolve, reject) => {
    const done = (socket: unknown, port: number | undefined, origin: string) => {
      if (!socket) return reject(new HostdError('HOSTD_LISTEN', `--status: cannot listen on ${address}`));
      resolve({
        port,
        origin,
        close: () => {
          uws.us_listen_socket_close(socket as never);
          if (where.kind !== 'unix') return;
          try {
            rmSync(where.path, { force: true });
          } catch {
            // After a --user drop the socket's folder is root's: the next start removes the stale file.
          }
        },
      });
    };
    if (where.kind === 'unix') {
      rmSync(where.path, { force: true }); // a stale socket file from a previous run (nothing answers there)
      app.listen_unix((socket) => {
        if (socket && opts.private) chmodSync(where.path, 0o600);
        done(socket, undefined, `unix:${where.path}`);
      }, where.path);
    } else {
      app.listen(where.host, where.port, (socket) => {
        const port = socket ? uws.us_socket_local_port(socket as never) : 0;
        const h = where.host.includes(':') ? `[${where.host}]` : where.host;
        done(socket, port, `http://${h}:${port}`);
      });
    }
  });
}
