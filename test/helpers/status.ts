// The --status listener as a test reads it: the documented /status JSON (docs/operations.md),
// fetched over HTTP, so tests observe pools and counters the way an operator does.
import { getJson } from './http.js';

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

export interface StatusJson {
  state: 'serving' | 'draining';
  uptimeSeconds: number;
  generation: number;
  inFlight: number;
  listeners: { host: string; port: number; secure: boolean }[];
  hosts: { file: string; serverNames: string[]; listen: string; tls: boolean; mounts: MountStatus[] }[];
  staticCache: { hits: number; misses: number; bytes: number; entries: number };
}

/** GET <base>/status (base: "http://127.0.0.1:PORT"). */
export async function readStatus(base: string): Promise<StatusJson> {
  const r = await getJson<StatusJson>(`${base}/status`);
  if (r.status !== 200) throw new Error(`/status answered ${r.status}`);
  return r.json;
}

/** The pool of the app mounted at `url` ("/" for the root), from a /status document. */
export function poolIn(status: StatusJson, url: string): PoolStatus {
  for (const h of status.hosts) for (const m of h.mounts) if (m.url === url && m.pool) return m.pool;
  throw new Error(`no app mount ${url} in /status: ${JSON.stringify(status.hosts.map((h) => h.mounts.map((m) => m.url)))}`);
}

/** The --status base URL a spawned hostd logged ("status endpoint status=http://h:p/status"). */
export async function statusBase(hostd: { waitFor(p: RegExp): Promise<void>; stderr(): string }): Promise<string> {
  const re = /status endpoint status=(http:\/\/\S+)\/status/;
  await hostd.waitFor(re);
  const m = re.exec(hostd.stderr());
  if (!m) throw new Error('no status endpoint in hostd stderr');
  return m[1];
}
