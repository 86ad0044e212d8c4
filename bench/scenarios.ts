// What the bench measures: the scenarios, which servers take part in each, and the targets from
// issues 2 (static), 3 (dynamic), 14 (response cache, compression) and 17 (node apps) they are
// judged against.

import { join } from 'node:path';
import { nodeScenarios, nodeTargets, type OwnServerName } from './node-apps.js';
import { BIG_SIZE, CACHED, DYNAMIC_PATHS, ECHO_SIZE, HELLO_BODY, STATIC_FILES, TEXT_FILE } from './payloads.js';

/**
 * `hostd-log` / `nginx-log`: the same servers with their access logs on (to a file).
 * `hostd-base`: another build of hostd (--base DIR), run beside this one for before/after figures.
 * `hostd-static` is not a process: it is hostd's own static 1 KiB hit, measured in the cached
 * scenario's rounds as the yardstick of a cached app response (see Scenario.paths).
 */
export type ServerName =
  | 'hostd'
  | 'hostd-base'
  | 'hostd-log'
  | 'hostd-static'
  | 'raw-uws'
  | 'raw-uws-fetch'
  | 'nginx'
  | 'nginx-log'
  | 'node-http'
  | OwnServerName;
/** node: the node-app scenarios (bench/node-apps.ts), each app on its own server and in hostd */
export type Group = 'static' | 'dynamic' | 'node';

export interface Scenario {
  id: string;
  label: string;
  group: Group;
  path: string;
  method: 'GET' | 'POST';
  /** wrk Lua script (absolute path) */
  script?: string;
  /** what a correct answer looks like, checked once per server before measuring */
  expectLength?: number;
  expectBody?: string;
  /** the answer must contain this (for pages whose bytes differ from build to build) */
  expectIncludes?: string;
  /** the request body of a POST (default: 1 KiB of "x", application/octet-stream) */
  body?: { text: string; type: string };
  /** the Host header hostd is asked with (default: the app vhost for `dynamic`, none for `static`) */
  host?: string;
  servers: ServerName[];
  /** Request headers wrk (and the check) send. */
  headers?: Record<string, string>;
  /** The answer must carry this Content-Encoding; length and bytes are checked after decoding. */
  expectEncoding?: 'gzip';
  /** The fixture file whose bytes the (decoded) answer must equal. */
  file?: string;
  /** The server the ratios are taken of (default hostd). */
  subject?: ServerName;
  /** Servers measured on another path, checked against a fixture file instead of expectBody. */
  paths?: Partial<Record<ServerName, { path: string; file: string }>>;
}

export interface Target {
  scenario: string;
  /** "ratio": hostd / `against` req/s ≥ min; "p99": hostd's median p99 ≤ maxMs; "cpu": hostd's CPU per request / `against`'s ≤ max */
  kind: 'ratio' | 'p99' | 'cpu';
  against?: ServerName;
  min?: number;
  max?: number;
  maxMs?: number;
  /** false: printed for information, not a target of the issues */
  target: boolean;
  source: string;
}

export function scenarios(benchDir: string): Scenario[] {
  const statics: Scenario[] = STATIC_FILES.map((f) => ({
    id: f.scenario,
    label: f.label,
    group: 'static',
    path: `/${f.name}`,
    method: 'GET',
    expectLength: f.size,
    servers: ['hostd', 'hostd-base', 'raw-uws', 'nginx'],
  }));
  const dynamic: Scenario[] = [
    {
      id: 'hello',
      label: 'dynamic hello',
      group: 'dynamic',
      path: DYNAMIC_PATHS.hello,
      method: 'GET',
      expectLength: Buffer.byteLength(HELLO_BODY),
      expectBody: HELLO_BODY,
      servers: ['hostd', 'hostd-base', 'raw-uws', 'raw-uws-fetch', 'node-http'],
    },
    {
      id: 'echo',
      label: 'POST echo 1 KiB',
      group: 'dynamic',
      path: DYNAMIC_PATHS.echo,
      method: 'POST',
      script: join(benchDir, 'echo.lua'),
      expectLength: ECHO_SIZE,
      servers: ['hostd', 'hostd-base', 'raw-uws', 'raw-uws-fetch', 'node-http'],
    },
    {
      id: 'big',
      label: 'dynamic 64 KB',
      group: 'dynamic',
      path: DYNAMIC_PATHS.big,
      method: 'GET',
      expectLength: BIG_SIZE,
      servers: ['hostd', 'hostd-base', 'raw-uws', 'raw-uws-fetch', 'node-http'],
    },
  ];
  const compressed: Scenario = {
    id: TEXT_FILE.scenario,
    label: TEXT_FILE.label,
    group: 'static',
    path: `/${TEXT_FILE.name}`,
    method: 'GET',
    expectLength: TEXT_FILE.size,
    servers: ['hostd', 'hostd-base', 'nginx'],
    headers: { 'Accept-Encoding': 'gzip' },
    expectEncoding: 'gzip',
    file: TEXT_FILE.name,
  };
  // Logging: both servers write an access log line per request to a file (nginx buffered 64k).
  const logged: Scenario = {
    ...statics[0],
    id: 'static-1k-log',
    label: 'static 1 KiB, access log on',
    servers: ['hostd-log', 'nginx-log'],
    subject: 'hostd-log',
  };
  const cached: Scenario = {
    id: 'cached-1k',
    label: 'cached app 1 KiB',
    group: 'dynamic',
    path: CACHED.path,
    method: 'GET',
    expectLength: CACHED.size,
    expectBody: String.fromCharCode(CACHED.byte).repeat(CACHED.size),
    servers: ['hostd', 'hostd-static'],
    paths: { 'hostd-static': { path: `/${STATIC_FILES[0].name}`, file: STATIC_FILES[0].name } },
  };
  // The JSON POST's wrk script is written at run time (bench/node-apps.ts builds the body).
  const node = nodeScenarios(join(benchDir, '..', '.bench', 'post-json.lua'));
  return [...statics, logged, compressed, ...dynamic, cached, ...node];
}

export const TARGETS: Target[] = [
  { scenario: 'static-1k', kind: 'ratio', against: 'nginx', min: 1.4, target: true, source: 'issue 2' },
  { scenario: 'static-1k', kind: 'ratio', against: 'raw-uws', min: 0.9, target: true, source: 'issue 2' },
  { scenario: 'static-1k-log', kind: 'ratio', against: 'nginx-log', min: 1.3, target: true, source: 'issue 12' },
  { scenario: 'static-100k', kind: 'ratio', against: 'nginx', min: 1.1, target: true, source: 'issue 2' },
  { scenario: 'static-10m', kind: 'ratio', against: 'nginx', min: 0.8, target: true, source: 'issue 2' },
  { scenario: 'static-10m', kind: 'ratio', against: 'nginx', min: 0.95, target: true, source: 'issue 12' },
  // The same file for both, so CPU per request is CPU per byte.
  { scenario: 'static-10m', kind: 'cpu', against: 'nginx', max: 1.5, target: true, source: 'issue 12' },
  { scenario: 'static-100k-gzip', kind: 'ratio', against: 'nginx', min: 3, target: true, source: 'issue 14' },
  { scenario: 'cached-1k', kind: 'ratio', against: 'hostd-static', min: 0.9, target: true, source: 'issue 14' },
  { scenario: 'hello', kind: 'ratio', against: 'raw-uws', min: 0.85, target: true, source: 'issue 3' },
  { scenario: 'hello', kind: 'ratio', against: 'node-http', min: 2, target: true, source: 'issue 3' },
  { scenario: 'hello', kind: 'ratio', against: 'node-http', min: 1.5, target: true, source: 'issue 12' },
  { scenario: 'hello', kind: 'cpu', against: 'raw-uws', max: 1.4, target: true, source: 'issue 12' },
  { scenario: 'hello', kind: 'p99', maxMs: 2, target: true, source: 'issue 3' },
  { scenario: 'echo', kind: 'p99', maxMs: 2, target: false, source: 'issue 3 (p99 bound applied to echo, for information)' },
  { scenario: 'big', kind: 'p99', maxMs: 2, target: false, source: 'issue 3 (p99 bound applied to 64 KB, for information)' },
  ...nodeTargets(nodeScenarios('')),
];
