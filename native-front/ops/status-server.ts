// --status HOST:PORT: an internal listener, apart from every public port, serving
// /healthz (200 serving, 503 draining), /status (JSON) and /metrics (Prometheus text).
import type { HttpResponse } from 'uWebSockets.js';
import type { Host } from '../host.js';
import { HostdError } from '../../shared/errors.js';
import { loadUws } from '../uws.js';
import { renderMetrics, statusJson } from './report.js';

export interface StatusServer {
  host: string;
  port: number;
  close(): void;
}

export function parseAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new HostdError('HOSTD_USAGE', `--status: "${text}" is not PORT or HOST:PORT`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

function reply(res: HttpResponse, status: string, type: string, body: string): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('Content-Type', type).writeHeader('Cache-Control', 'no-store').end(body);
  });
}

export function startStatusServer(host: Host, address: string): Promise<StatusServer> {
  const uws = loadUws();
  const { host: bindHost, port } = parseAddress(address);
  const app = uws
    .App()
    .get('/healthz', (res) =>
      host.draining ? reply(res, '503 Service Unavailable', 'text/plain', 'draining\n') : reply(res, '200 OK', 'text/plain', 'ok\n'),
    )
    .get('/status', (res) => reply(res, '200 OK', 'application/json', JSON.stringify(statusJson(host), null, 2)))
    .get('/metrics', (res) => reply(res, '200 OK', 'text/plain; version=0.0.4; charset=utf-8', renderMetrics(host)))
    .any('/*', (res) => reply(res, '404 Not Found', 'text/plain', 'not found\n'));
  return new Promise((resolve, reject) => {
    app.listen(bindHost, port, (socket) => {
      if (!socket) return reject(new HostdError('HOSTD_LISTEN', `--status: cannot listen on ${address}`));
      resolve({ host: bindHost.includes(':') ? `[${bindHost}]` : bindHost, port: uws.us_socket_local_port(socket as never), close: () => uws.us_listen_socket_close(socket) });
    });
  });
}
