// The client side of the status listener, for `hostd status` and `hostd reload NAME`: one HTTP
// request over its Unix socket (the default, control/runtime-dir.ts) or TCP address, with the
// bearer token of --status-token-file. node:http rather than a client library: this runs in a
// short-lived CLI process and must load little.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { HostdError } from '../../shared/errors.js';
import { defaultStatusSocket } from '../control/runtime-dir.js';
import { parseStatusAddress } from '../control/status-server.js';

export interface StatusTarget {
  /** --status: HOST:PORT or a socket path; default the runtime directory's socket. */
  status?: string;
  /** --status-token-file: sent as "Authorization: Bearer <token>". */
  statusTokenFile?: string;
}

export interface StatusAnswer {
  status: number;
  body: string;
}

/** "unix:/run/hostd/hostd.sock" or "127.0.0.1:9100": where the request went, for messages. */
export function describeTarget(target: StatusTarget): string {
  const where = parseStatusAddress(target.status ?? defaultStatusSocket());
  return where.kind === 'unix' ? `unix:${where.path}` : `${where.host}:${where.port}`;
}

function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new HostdError('HOSTD_USAGE', `--status-token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

/** Sends `method path` to the status listener; a listener nobody answers on is HOSTD_NOT_RUNNING. */
export function statusRequest(target: StatusTarget, method: 'GET' | 'POST', path: string): Promise<StatusAnswer> {
  const where = parseStatusAddress(target.status ?? defaultStatusSocket());
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.statusTokenFile) headers.authorization = `Bearer ${readToken(target.statusTokenFile)}`;
  if (method === 'POST') headers['content-length'] = '0';
  const address = where.kind === 'unix' ? { socketPath: where.path } : { host: where.host, port: where.port };
  return new Promise((resolve, reject) => {
    const req = request({ ...address, method, path, headers, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const nobody = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      const why = nobody ? 'no hostd is running there' : `cannot reach it: ${err.code ?? err.message}`;
      reject(
        new HostdError(
          'HOSTD_NOT_RUNNING',
          `${describeTarget(target)}: ${why} (start hostd, or point at its status listener with --status ADDR)`,
        ),
      );
    });
    req.end();
  });
}
