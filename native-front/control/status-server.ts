// --status HOST:PORT (or a Unix socket path): an internal listener, apart from every public port,
// on the control thread, serving /healthz (200 serving, 503 draining), /status (JSON) and
// /metrics (Prometheus text). It may require a bearer token (--status-token-file): apps run on
// the same machine and can reach a loopback port.
import { timingSafeEqual } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { HostdError } from '../../shared/errors.js';
import { sendStatus } from '../http/answer.js';
import { loadUws } from '../uws.js';
import type { Host } from './host.js';
import { renderMetrics, type StatusJson } from './report.js';

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

function reply(res: HttpResponse, status: number, type: string, body: string): void {
  sendStatus(res, status, { body, type, headers: { 'Cache-Control': 'no-store' } });
}

export function startStatusServer(host: Host, address: string, tokenFile?: string): Promise<StatusServer> {
  const uws = loadUws();
  const where = parseStatusAddress(address);
  const token = tokenFile ? readToken(tokenFile) : null;
  /** Answers with the host's status, read asynchronously from the fronts. */
  const withStatus = (render: (s: StatusJson) => string, type: string) => (res: HttpResponse, req: HttpRequest) => {
    if (!authorized(req, token)) return reply(res, 401, 'text/plain', 'a bearer token is required\n');
    let aborted = false;
    res.onAborted(() => (aborted = true));
    host.status().then(
      (s) => !aborted && reply(res, 200, type, render(s)),
      (err: Error) => !aborted && reply(res, 500, 'text/plain', `status unavailable: ${err.message}\n`),
    );
  };
  const app = uws
    .App()
    .get('/healthz', (res, req) => {
      if (!authorized(req, token)) return reply(res, 401, 'text/plain', 'a bearer token is required\n');
      if (host.draining) reply(res, 503, 'text/plain', 'draining\n');
      else reply(res, 200, 'text/plain', 'ok\n');
    })
    .get(
      '/status',
      withStatus((s) => JSON.stringify(s, null, 2), 'application/json'),
    )
    // Purge of the response caches (uWS v20.30 drops a PURGE request on the public listeners, so
    // the purge goes here): POST /cache/purge?url=/path[&host=h] or ?prefix=/path[&host=h].
    .post('/cache/purge', (res, req) => {
      if (!authorized(req, token)) return reply(res, 401, 'text/plain', 'a bearer token is required\n');
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
    .get('/metrics', withStatus(renderMetrics, 'text/plain; version=0.0.4; charset=utf-8'))
    .any('/*', (res) => reply(res, 404, 'text/plain', 'not found\n'));
  return new Promise((resolve, reject) => {
    const done = (socket: unknown, port: number | undefined, origin: string) => {
      if (!socket) return reject(new HostdError('HOSTD_LISTEN', `--status: cannot listen on ${address}`));
      resolve({
        port,
        origin,
        close: () => {
          uws.us_listen_socket_close(socket as never);
          if (where.kind === 'unix') rmSync(where.path, { force: true });
        },
      });
    };
    if (where.kind === 'unix') {
      rmSync(where.path, { force: true }); // a stale socket file from a previous run
      app.listen_unix((socket) => done(socket, undefined, `unix:${where.path}`), where.path);
    } else {
      app.listen(where.host, where.port, (socket) => {
        const port = socket ? uws.us_socket_local_port(socket as never) : 0;
        const h = where.host.includes(':') ? `[${where.host}]` : where.host;
        done(socket, port, `http://${h}:${port}`);
      });
    }
  });
}
