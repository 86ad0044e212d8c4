// The --status listener as a test reads it: the documented /status JSON (docs/operations.md),
// fetched over HTTP, so tests observe pools and counters the way an operator does.
import { Agent, request } from 'undici';
import type { TextAnswer } from './http.js';

export interface PoolStatus {
  config: Record<string, unknown>;
  threads: number;
  busy: number;
  idle: number;
  queued: number;
  inFlight: number;
  requests: number;
  restarts: Record<string, number>;
  loadError?: string;
}

export interface MountStatus {
  url: string;
  kind: 'static' | 'app';
  requests: number;
  dir?: string;
  module?: string;
  pool?: PoolStatus;
}

/** A site as `sites` in /status lists it (docs/operations.md, "The /status document"). */
export interface SiteStatus {
  name: string;
  file: string;
  serverNames: string[];
  listen: string;
  mounts: {
    url: string;
    kind: 'static' | 'app';
    requests: number;
    pool?: {
      threads: number;
      workers: number;
      busy: number;
      memoryMb: number[];
      requests: number;
      restarts: number;
      queue: number;
      cwd: string;
      loadError?: string;
    };
  }[];
}

export interface StatusJson {
  state: 'serving' | 'draining';
  uptimeSeconds: number;
  generation: number;
  inFlight: number;
  listeners: { host: string; port: number; secure: boolean }[];
  hosts: { site: string; file: string; serverNames: string[]; listen: string; tls: boolean; mounts: MountStatus[] }[];
  sites: SiteStatus[];
  staticCache: { hits: number; misses: number; bytes: number; entries: number };
}

const unixAgents = new Map<string, Agent>();

/**
 * A request to the status listener at `base`: "http://127.0.0.1:PORT", or "unix:/path" (the
 * default socket, runtime-dir.ts), as hostd logs it on "status endpoint".
 */
export async function statusRequest(base: string, path: string, opts: { method?: 'GET' | 'HEAD' | 'POST' } = {}): Promise<TextAnswer> {
  let dispatcher: Agent | undefined;
  let url = `${base}${path}`;
  if (base.startsWith('unix:')) {
    const socketPath = base.slice(5);
    dispatcher = unixAgents.get(socketPath) ?? new Agent({ connect: { socketPath } });
    unixAgents.set(socketPath, dispatcher);
    url = `http://localhost${path}`;
  }
  const res = await request(url, { method: opts.method ?? 'GET', dispatcher });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** GET <base>/status (base: "http://127.0.0.1:PORT" or "unix:/path"). */
export async function readStatus(base: string): Promise<StatusJson> {
  const r = await statusRequest(base, '/status');
  if (r.status !== 200) throw new Error(`/status answered ${r.status}: ${r.text}`);
  return JSON.parse(r.text) as StatusJson;
}

/** The pool of the app mounted at `url` ("/" for the root), from a /status document. */
export function poolIn(status: StatusJson, url: string): PoolStatus {
  for (const h of status.hosts) for (const m of h.mounts) if (m.url === url && m.pool) return m.pool;
  throw new Error(`no app mount ${url} in /status: ${JSON.stringify(status.hosts.map((h) => h.mounts.map((m) => m.url)))}`);
}

/**
 * The status listener's base a spawned hostd logged ("status endpoint status=http://h:p/status",
 * or "status=unix:/path/hostd.sock/status" for the default socket): statusRequest takes either.
 */
export async function statusBase(hostd: { waitFor(p: RegExp): Promise<void>; stderr(): string }): Promise<string> {
  const re = /status endpoint status=((?:http:\/\/|unix:)\S+)\/status/;
  await hostd.waitFor(re);
  const m = re.exec(hostd.stderr());
  if (!m) throw new Error('no status endpoint in hostd stderr');
  return m[1];
}
