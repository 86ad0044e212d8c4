// The node-app scenarios of `npm run bench` (issue 17): Express 5, Fastify 5, Koa 3 and a
// Next.js app (bench/apps/node/), each run twice in the same run: on its own node:http server
// (`node app.js`, its own listen: the `*-own` servers) and mounted unmodified in hostd (a vhost
// of its own, `pool: { threads: 1 }`). The ratios hostd/own of CPU per request and req/s are
// judged against issue 17's targets.
//
// Next.js is served from its standalone build, built here once into .bench/node-apps/ (reused
// while the app's sources and Next's version are unchanged); when the build fails the Next
// scenarios are skipped with a line saying why.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import type { VhostConfig } from '../shared/config/types.js';
import type { Scenario, ServerName, Target } from './scenarios.js';

export type NodeAppName = 'express' | 'fastify' | 'koa' | 'next';
export type OwnServerName = `${NodeAppName}-own`;

const require = createRequire(import.meta.url);
/** The apps' own answers (bench/apps/node/users.cjs): what a correct server must send. */
const users = require('./apps/node/users.cjs') as {
  user(id: string): Record<string, unknown>;
  userFields(id: string, fields?: string): Record<string, unknown>;
  created(body: unknown): Record<string, unknown>;
};

/** The JSON body of the POST scenarios (~1.5 KB): a user record as a sign-up form sends it. */
export const USER_BODY = {
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  plan: 'pro',
  tags: Array.from({ length: 24 }, (_, i) => `tag-${i}`),
  address: { street: '12 St James Square', city: 'London', postcode: 'SW1Y 4JH', country: 'GB' },
  bio: 'Mathematician and writer, known for her work on the Analytical Engine. '.repeat(12).trim(),
};
const USER_BODY_TEXT = JSON.stringify(USER_BODY);

const GET_PATH = '/users/42?fields=name,email';
const GET_BODY = JSON.stringify(users.userFields('42', 'name,email'));
const POST_ANSWER = JSON.stringify(users.created(USER_BODY));

/** The Host header hostd is asked with for `app`: each app has a vhost of its own. */
export const nodeHost = (app: NodeAppName) => `${app}.bench`;

/** Writes the wrk script of the JSON POST scenarios to `file` (its body is built here, in one place). */
export function writePostScript(file: string): void {
  // A Lua long string holds the JSON as is (it has no "]]").
  writeFileSync(
    file,
    `-- written by bench/node-apps.ts: POST ${USER_BODY_TEXT.length} bytes of JSON\nwrk.method = "POST"\nwrk.body = [[${USER_BODY_TEXT}]]\nwrk.headers["Content-Type"] = "application/json"\n`,
  );
}

export function nodeScenarios(postScript: string): Scenario[] {
  const out: Scenario[] = [];
  // (labels fit the table's 17-character column)
  const labels: Record<NodeAppName, string> = { express: 'Express', fastify: 'Fastify', koa: 'Koa', next: 'Next' };
  const base = (app: NodeAppName) => ({ group: 'node' as const, host: nodeHost(app), servers: ['hostd', `${app}-own`] as ServerName[] });
  for (const app of ['express', 'fastify', 'koa'] as const) {
    out.push({
      ...base(app),
      id: `${app}-get`,
      label: `${labels[app]} GET json`,
      path: GET_PATH,
      method: 'GET',
      expectLength: Buffer.byteLength(GET_BODY),
      expectBody: GET_BODY,
    });
    out.push({
      ...base(app),
      id: `${app}-post`,
      label: `${labels[app]} POST json`,
      path: '/users',
      method: 'POST',
      script: postScript,
      body: { text: USER_BODY_TEXT, type: 'application/json' },
      expectLength: Buffer.byteLength(POST_ANSWER),
      expectBody: POST_ANSWER,
    });
  }
  out.push({
    ...base('next'),
    id: 'next-api',
    label: 'Next route GET',
    path: `/api${GET_PATH}`,
    method: 'GET',
    expectLength: Buffer.byteLength(GET_BODY),
    expectBody: GET_BODY,
  });
  // The page's HTML names the build's chunks: checked for the rendered user, not byte for byte.
  out.push({
    ...base('next'),
    id: 'next-page',
    label: 'Next SSR page',
    path: '/users?id=42',
    method: 'GET',
    expectIncludes: `<h1>${String(users.user('42').name)}</h1>`,
  });
  return out;
}

/** Issue 17's targets for every node scenario: CPU per request ≤ 1.2× own, req/s ≥ 0.9×; moonshot CPU ≤ 1.0×. */
export function nodeTargets(scs: Scenario[]): Target[] {
  return scs.flatMap((s): Target[] => {
    const own = s.servers.find((n) => n.endsWith('-own'))!;
    return [
      { scenario: s.id, kind: 'cpu', against: own, max: 1.2, target: true, source: 'issue 17' },
      { scenario: s.id, kind: 'ratio', against: own, min: 0.9, target: true, source: 'issue 17' },
      { scenario: s.id, kind: 'cpu', against: own, max: 1.0, target: false, source: 'issue 17 moonshot' },
    ];
  });
}

export interface NodeApp {
  name: NodeAppName;
  /** the module hostd mounts and `node` runs on its own */
  entry: string;
}

/** Express, Fastify and Koa run from their source folders. */
export function plainApps(benchDir: string): NodeApp[] {
  const dir = join(benchDir, 'apps', 'node');
  return [
    { name: 'express', entry: join(dir, 'express', 'app.js') },
    { name: 'fastify', entry: join(dir, 'fastify', 'server.js') },
    { name: 'koa', entry: join(dir, 'koa', 'app.js') },
  ];
}

/** The environment of an app on its own: the port to listen on, production mode as hostd's workers run. */
export function ownEnv(port: number): NodeJS.ProcessEnv {
  return { ...process.env, PORT: String(port), HOSTNAME: '127.0.0.1', NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' };
}

/** hostd's vhost for one app: the whole host is the app (url /), one 1-thread pool. */
export function nodeVhost(app: NodeApp): Omit<VhostConfig, 'listen'> {
  return { serverName: [nodeHost(app.name)], apps: [{ url: '/', module: app.entry, pool: { threads: 1 } }] };
}

function hashTree(dir: string, h = createHash('sha256')): ReturnType<typeof createHash> {
  for (const e of readdirSync(dir).sort()) {
    if (e === '.next' || e === 'node_modules') continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) hashTree(p, h);
    else h.update(p).update(readFileSync(p));
  }
  return h;
}

/**
 * The Next.js app's standalone server.js, built with `next build` into .bench/node-apps/next if
 * not built yet from these sources; or `{ skipped }` saying why it could not be built.
 */
export function prepareNext(repo: string, benchDir: string): NodeApp | { skipped: string } {
  const src = join(benchDir, 'apps', 'node');
  const work = join(repo, '.bench', 'node-apps');
  const appDir = join(work, 'next');
  let nextBin: string;
  let nextVersion: string;
  try {
    nextBin = require.resolve('next/dist/bin/next', { paths: [repo] });
    nextVersion = (JSON.parse(readFileSync(require.resolve('next/package.json', { paths: [repo] }), 'utf8')) as { version: string })
      .version;
  } catch {
    return { skipped: 'the next package is not installed' };
  }
  const stamp = hashTree(src).update(nextVersion).digest('hex');
  // The standalone server sits at the app's place relative to the tracing root (this repository).
  const server = join(appDir, '.next', 'standalone', relative(repo, appDir), 'server.js');
  const stampFile = join(work, '.stamp');
  if (existsSync(server) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return { name: 'next', entry: server };

  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  cpSync(src, work, { recursive: true }); // the whole folder: the app imports ../users.cjs
  process.stdout.write(`bench: building the Next.js app (next build, once; reused while its sources are unchanged) ... `);
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' };
  const build = (args: string[]) => spawnSync(process.execPath, [nextBin, 'build', ...args], { cwd: appDir, env, encoding: 'utf8' });
  const t0 = Date.now();
  let r = build([]);
  let how = 'Turbopack';
  // Turbopack resolves nothing outside the workspace root: where node_modules is a link out of
  // the repository (a git worktree sharing one install), webpack, which follows links, builds it.
  if (r.status !== 0 && /Could not find the Next\.js package/.test(`${r.stdout}${r.stderr}`)) {
    r = build(['--webpack']);
    how = 'webpack: node_modules is outside the repository, Turbopack refuses it';
  }
  if (r.status !== 0 || !existsSync(server)) {
    console.log('failed');
    const tail = `${r.stdout}${r.stderr}`.trim().split('\n').slice(-8).join('\n  ');
    return { skipped: `next build failed (exit ${r.status}); last lines:\n  ${tail}` };
  }
  console.log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s (${how})`);
  writeFileSync(stampFile, stamp);
  return { name: 'next', entry: server };
}
