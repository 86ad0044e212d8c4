// Framework apps written as their own getting-started guides write them (installed from npm as
// dev dependencies), run unchanged by the real `hostd` binary and exercised over a real socket:
// routing, a JSON body, a streamed 4 MiB response, and the error paths. Express, Fastify, Koa
// and Hono share one hostd (one vhost each); the Next.js app is built with `next build`
// (output: 'standalone') in a before hook and served from its standalone server.js.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { request } from 'undici';
import { ROOT, runCli, spawnHostd, type HostdProcess } from './helpers/host.js';

const FW = resolve(ROOT, 'test/fixtures/frameworks');
const NODE = resolve(ROOT, 'test/fixtures/node-apps');
const BIG = 64 * 64 * 1024;
/** Workers run with NODE_ENV=production unless hostd's environment says otherwise: make sure it does not. */
const PRODUCTION = { NODE_ENV: undefined };

/** A vhost file with one app mount (and any static mounts), written for `hostd --sites`. */
function site(
  name: string,
  module: string,
  opts: { url?: string; statics?: { url: string; dir: string }[]; passEnv?: string[] } = {},
): string {
  const statics = (opts.statics ?? []).map(
    (s) => `  - url: ${s.url}\n    dir: ${JSON.stringify(s.dir)}\n    maxAge: 31536000\n    immutable: true\n`,
  );
  return (
    `serverName: ${name}\n` +
    (statics.length ? `static:\n${statics.join('')}` : '') +
    `apps:\n  - url: ${opts.url ?? '/'}\n    module: ${JSON.stringify(module)}\n    pool: { threads: 1${opts.passEnv ? `, passEnv: ${JSON.stringify(opts.passEnv)}` : ''} }\n`
  );
}

async function writeSites(sites: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hostd-frameworks-'));
  for (const [name, text] of Object.entries(sites)) await writeFile(join(dir, `${name}.yaml`), text);
  return dir;
}

function client(hostd: () => HostdProcess) {
  return (host: string, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) =>
    request(`http://127.0.0.1:${hostd().port}${path}`, { ...init, headers: { host, ...init.headers } });
}

interface Expected {
  /** The body of GET /. */
  root: string;
  /** A piece of the 500 answer's body (each framework words it its own way). */
  error: string;
}

/** The battery each framework app answers: the same routes, written in each framework's style. */
function battery(get: ReturnType<typeof client>, host: string, expected: Expected): void {
  it('routes / and /items/:id', async () => {
    const root = await get(host, '/');
    expect(root.statusCode).to.equal(200);
    expect(await root.body.text()).to.equal(expected.root);
    const item = await get(host, '/items/3?x=1');
    expect(item.statusCode).to.equal(200);
    expect(item.headers['content-type']).to.match(/^application\/json/);
    expect(await item.body.json()).to.deep.include({ id: '3' });
  });

  it('parses a JSON POST body, and answers 400 to a malformed one', async () => {
    const sent = { n: 42, s: 'grüße', list: [1, 2, 3], nested: { ok: true } };
    const res = await get(host, '/echo', { method: 'POST', body: JSON.stringify(sent), headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).to.equal(200);
    expect(await res.body.json()).to.deep.equal({ received: sent });
    const bad = await get(host, '/echo', { method: 'POST', body: '{"n": 4', headers: { 'content-type': 'application/json' } });
    expect(bad.statusCode).to.equal(400);
    await bad.body.dump();
  });

  it('streams a 4 MiB response', async () => {
    const res = await get(host, '/big');
    expect(res.statusCode).to.equal(200);
    expect(res.headers['content-type']).to.match(/^application\/octet-stream/);
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(body.length).to.equal(BIG);
    expect(body.every((b) => b === 120)).to.equal(true);
  });

  it('an exception in a route is a 500 with no stack trace; an unknown path is 404', async () => {
    const res = await get(host, '/boom');
    expect(res.statusCode).to.equal(500);
    const text = await res.body.text();
    expect(text).to.include(expected.error);
    expect(text).not.to.match(/\bat .*:\d+:\d+/); // no stack frames
    const missing = await get(host, '/no/such/route');
    expect(missing.statusCode).to.equal(404);
    await missing.body.dump();
  });
}

describe('frameworks as their getting-started guides write them, under hostd', function () {
  this.timeout(60_000);
  let hostd: HostdProcess;
  let sitesDir: string;
  const get = client(() => hostd);

  before(async () => {
    sitesDir = await writeSites({
      express: site('express.test', join(FW, 'express/app.js')),
      'express-sub': site('express-sub.test', join(FW, 'express/app.js'), { url: '/shop' }),
      // Workers start from a minimal environment: the localhost shim (NODE_OPTIONS) is passed on.
      fastify: site('fastify.test', join(FW, 'fastify/server.js'), { passEnv: ['NODE_OPTIONS'] }),
      koa: site('koa.test', join(FW, 'koa/app.js')),
      hono: site('hono.test', join(FW, 'hono/src/index.ts')),
      'hono-sub': site('hono-sub.test', join(FW, 'hono/src/index.ts'), { url: '/hono' }),
      'hono-node': site('hono-node.test', join(FW, 'hono-node/src/index.ts')),
    });
    hostd = await spawnHostd(['--sites', sitesDir, '--listen', '127.0.0.1:0', '--access-log', 'off'], {
      env: { ...PRODUCTION, NODE_OPTIONS: `--import=${join(FW, 'localhost-dual-stack.mjs')}` },
      timeoutMs: 45_000,
    });
  });
  after(async () => {
    await hostd?.stop();
    if (sitesDir) await rm(sitesDir, { recursive: true, force: true });
  });

  describe('Express 5 (app.listen(port), CommonJS, nothing exported)', () => {
    battery(get, 'express.test', { root: 'Hello World!', error: 'Internal Server Error' });
  });

  describe('Fastify 5 (await fastify.listen({ port: 3000 }), logger on)', () => {
    battery(get, 'fastify.test', { root: '{"hello":"world"}', error: 'boom from a Fastify route' });

    it('localhost is two servers (::1 and 127.0.0.1) with one handler: served as one app, and the log says so', async () => {
      await hostd.waitFor(/listen\(\[::1\]:3000\).*same request handler as listen\(localhost:3000\)/);
      const lines = hostd
        .stderr()
        .split('\n')
        .filter((l) => l.includes('mount=/') && l.includes('the app called listen('));
      const fastify = lines.filter((l) => l.includes('vhost=fastify.test'));
      expect(fastify).to.have.length(2);
      expect(fastify[0]).to.include('listen(localhost:3000)');
      expect(hostd.stderr()).not.to.match(/vhost=fastify\.test.*failed to load/);
    });
  });

  describe('Koa 3 (@koa/router quick start, @koa/bodyparser)', () => {
    battery(get, 'koa.test', { root: 'Hello World!', error: 'Internal Server Error' });
  });

  describe('Hono 4, `export default app` (fetch handler, TypeScript)', () => {
    battery(get, 'hono.test', { root: 'Hello Hono!', error: 'Internal Server Error' });
  });

  describe('Hono 4, Node.js guide: serve() from @hono/node-server (TypeScript)', () => {
    battery(get, 'hono-node.test', { root: 'Hello Hono!', error: 'Internal Server Error' });
  });

  describe('sub-path mounts', () => {
    it('Express at /shop sees mount-relative URLs; originalUrl keeps the prefix', async () => {
      const res = await get('express-sub.test', '/shop/items/3?x=1');
      expect(res.statusCode).to.equal(200);
      expect(await res.body.json()).to.deep.equal({ id: '3', url: '/items/3?x=1', originalUrl: '/shop/items/3?x=1' });
      const root = await get('express-sub.test', '/shop');
      expect(await root.body.text()).to.equal('Hello World!');
      const echo = await get('express-sub.test', '/shop/echo', {
        method: 'POST',
        body: '{"a":1}',
        headers: { 'content-type': 'application/json' },
      });
      expect(await echo.body.json()).to.deep.equal({ received: { a: 1 } });
    });

    it('Hono (fetch app) at /hono sees mount-relative URLs', async () => {
      const root = await get('hono-sub.test', '/hono/');
      expect(root.statusCode).to.equal(200);
      expect(await root.body.text()).to.equal('Hello Hono!');
      const item = await get('hono-sub.test', '/hono/items/3');
      expect(item.statusCode).to.equal(200);
      expect(await item.body.json()).to.deep.equal({ id: '3', url: '/items/3' });
    });
  });
});

describe('apps that call listen() on several servers', function () {
  this.timeout(30_000);

  it('one handler on an IPv4 and an IPv6 server is one app, served through that handler', async () => {
    const dir = await writeSites({ dual: site('dual.test', join(NODE, 'dual-stack.mjs')) });
    const hostd = await spawnHostd(['--sites', dir, '--listen', '127.0.0.1:0', '--access-log', 'off'], { env: PRODUCTION });
    try {
      const res = await client(() => hostd)('dual.test', '/x?y=1');
      expect(res.statusCode).to.equal(200);
      expect(await res.body.json()).to.deep.equal({ hello: 'dual-stack', url: '/x?y=1' });
      // Log lines reach stderr in batches: the response can arrive first.
      await hostd.waitFor(/same request handler as listen\(0\.0\.0\.0:3000\)/);
      expect(hostd.stderr()).to.include('the app called listen(0.0.0.0:3000)');
      expect(hostd.stderr()).to.include('the app called listen([::]:3000)');
      expect(hostd.stderr()).to.include('same request handler as listen(0.0.0.0:3000)');
    } finally {
      await hostd.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  const twoServers = (text: string) => {
    expect(text).to.include('two-servers.mjs failed to load: the app called listen() on 2 HTTP servers with different request handlers');
    expect(text).to.include('listen(3000) at two-servers.mjs:12 (request handler: site())');
    expect(text).to.include('listen(127.0.0.1:9000) at two-servers.mjs:13 (request handler: admin())');
  };

  it('servers with different handlers: `hostd check` names each (address, call site, handler) and exits 1', async () => {
    const dir = await writeSites({ two: site('two.test', join(NODE, 'two-servers.mjs')) });
    try {
      const r = await runCli(['check', '--sites', dir]);
      expect(r.code).to.equal(1);
      twoServers(r.stderr);
      expect(r.stderr).to.match(new RegExp(`^${dir}/two\\.yaml:4: apps\\[0\\]\\.module: `, 'm'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('servers with different handlers: a running host logs the same error and the mount answers 503', async () => {
    const dir = await writeSites({ two: site('two.test', join(NODE, 'two-servers.mjs')) });
    const hostd = await spawnHostd(['--sites', dir, '--listen', '127.0.0.1:0', '--access-log', 'off'], { env: PRODUCTION });
    try {
      const res = await client(() => hostd)('two.test', '/');
      expect(res.statusCode).to.equal(503);
      await res.body.dump();
      // The request waited for the load (listen() does not); the log line may follow the answer.
      await hostd.waitFor(/two-servers\.mjs failed to load/);
      twoServers(hostd.stderr());
    } finally {
      await hostd.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('apps written as their own process, in a pool', function () {
  this.timeout(30_000);
  let hostd: HostdProcess;
  let dir: string;
  const get = client(() => hostd);

  before(async () => {
    dir = await writeSites({
      late: site('late.test', join(NODE, 'late-second-server.mjs')),
      chdir: site('chdir.test', join(NODE, 'chdir-app.mjs')),
      cwd: site('cwd.test', join(NODE, 'cwd-app.mjs')),
    });
    hostd = await spawnHostd(['--sites', dir, '--listen', '127.0.0.1:0', '--access-log', 'off'], { env: PRODUCTION });
  });
  after(async () => {
    await hostd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a server with another handler, listened on after the app was taken, is logged; the first keeps serving', async () => {
    await hostd.waitFor(
      /listen\(3001\) at late-second-server\.mjs:15 \(request handler: second\(\)\) after hostd took listen\(3000\) at late-second-server\.mjs:8 \(request handler: first\(\)\) as the app/,
    );
    const res = await get('late.test', '/');
    expect(await res.body.text()).to.equal('first');
  });

  it("process.chdir() moves the worker's own directory: process.cwd() and path.resolve() follow, other pools and hostd do not", async () => {
    const res = await get('chdir.test', '/');
    expect(await res.body.json()).to.deep.equal({ cwd: NODE, resolved: join(NODE, 'x.txt'), missing: 'ENOENT' });
    const other = await get('cwd.test', '/');
    expect(await other.body.json()).to.deep.equal({ cwd: ROOT.replace(/\/$/, '') });
    await hostd.waitFor(/the app called process\.chdir\(/);
    expect(hostd.stderr()).to.include(`the app called process.chdir(${NODE})`);
  });
});

describe('a Next.js app (App Router), built with `next build` and served from its standalone output', function () {
  const APP = join(FW, 'next');
  let hostd: HostdProcess;
  let sitesDir: string;
  let standaloneApp: string;
  const get = client(() => hostd);

  before(async function () {
    // A cold build takes 10-20 s on a 2-core machine; leave room for a slow, shared one.
    this.timeout(300_000);
    const next = createRequire(join(APP, 'package.json')).resolve('next/dist/bin/next');
    const started = Date.now();
    await run(process.execPath, [next, 'build'], APP, { NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: undefined });
    process.stderr.write(`      (next build: ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    // The standalone server sits at the same place relative to the tracing root (the folder
    // holding package-lock.json, this repository) as the app does.
    standaloneApp = join(APP, '.next/standalone', relative(ROOT, APP));
    // Next's documented deployment step: public/ goes next to server.js (Next serves it).
    await cp(join(APP, 'public'), join(standaloneApp, 'public'), { recursive: true });
    sitesDir = await writeSites({
      next: site('next.test', join(standaloneApp, 'server.js'), {
        // .next/static is served by hostd's front, as a production deployment serves it.
        statics: [{ url: '/_next/static', dir: join(APP, '.next/static') }],
      }),
    });
    hostd = await spawnHostd(['--sites', sitesDir, '--listen', '127.0.0.1:0', '--access-log', 'off'], {
      env: PRODUCTION,
      timeoutMs: 60_000,
    });
  });
  after(async () => {
    await hostd?.stop();
    if (sitesDir) await rm(sitesDir, { recursive: true, force: true });
  });
  this.timeout(30_000);

  it('server-renders the page per request; its script chunks come from the static mount', async () => {
    const res = await get('next.test', '/', { headers: { 'user-agent': 'hostd-test/1.0' } });
    expect(res.statusCode).to.equal(200);
    expect(res.headers['x-powered-by']).to.equal('Next.js');
    const html = await res.body.text();
    expect(html).to.include('<h1>Hello from Next.js</h1>');
    expect(html).to.include('<p id="agent">hostd-test/1.0</p>'); // rendered for this request
    const chunks = [...html.matchAll(/src="(\/_next\/static\/chunks\/[^"]+\.js)"/g)].map((m) => m[1]!);
    expect(chunks.length).to.be.greaterThan(0);
    for (const path of new Set(chunks)) {
      const js = await get('next.test', path);
      expect(js.statusCode, path).to.equal(200);
      expect(js.headers['content-type']).to.match(/^text\/javascript/);
      expect(js.headers['cache-control']).to.equal('public, max-age=31536000, immutable');
      expect(js.headers['x-powered-by'], 'served by the front, not by Next').to.equal(undefined);
      expect((await js.body.text()).length).to.be.greaterThan(0);
    }
  });

  it('serves a public/ asset', async () => {
    const res = await get('next.test', '/hostd.svg');
    expect(res.statusCode).to.equal(200);
    expect(res.headers['content-type']).to.match(/^image\/svg\+xml/);
    expect(await res.body.text()).to.match(/^<svg /);
  });

  it('route handlers: a dynamic segment, a JSON POST body (400 when malformed), a 4 MiB stream', async () => {
    const item = await get('next.test', '/api/items/3');
    expect(item.statusCode).to.equal(200);
    expect(await item.body.json()).to.deep.include({ id: '3' });
    const sent = { n: 42, s: 'grüße', list: [1, 2, 3] };
    const echo = await get('next.test', '/api/echo', {
      method: 'POST',
      body: JSON.stringify(sent),
      headers: { 'content-type': 'application/json' },
    });
    expect(echo.statusCode).to.equal(200);
    expect(await echo.body.json()).to.deep.equal({ received: sent });
    const bad = await get('next.test', '/api/echo', { method: 'POST', body: '{"n": 4', headers: { 'content-type': 'application/json' } });
    expect(bad.statusCode).to.equal(400);
    expect(await bad.body.json()).to.deep.equal({ error: 'invalid JSON' });
    const big = await get('next.test', '/api/big');
    expect(big.statusCode).to.equal(200);
    const body = Buffer.from(await big.body.arrayBuffer());
    expect(body.length).to.equal(BIG);
    expect(body.every((b) => b === 120)).to.equal(true);
  });

  it('an exception in a route handler is a 500 (logged with the mount); an unknown page is 404', async () => {
    const res = await get('next.test', '/api/boom');
    expect(res.statusCode).to.equal(500);
    await res.body.dump();
    await hostd.waitFor(/boom from a route handler.*\n?.*vhost=next\.test/);
    const missing = await get('next.test', '/no/such/page');
    expect(missing.statusCode).to.equal(404);
    expect(await missing.body.text()).to.include('This page could not be found');
  });

  it("server.js's process.chdir(__dirname) and listen() are taken in, and the log says how", async () => {
    const log = hostd.stderr();
    // The standalone folder has its package.json: its workers start there (the app root), so its
    // chdir(__dirname) moves nothing; without one they start above, and the chdir is logged.
    if (existsSync(join(standaloneApp, 'package.json'))) expect(log).to.include(`the app runs in ${standaloneApp}:`);
    else expect(log).to.include(`the app called process.chdir(${standaloneApp})`);
    expect(log).to.match(/the app called listen\([^)]+\): hostd serves its requests/); // PORT, HOSTNAME or 0.0.0.0:3000
    expect(log).not.to.include('failed to load');
  });
});

/** Runs a command to completion; rejects with its output when it fails. */
function run(cmd: string, args: string[], cwd: string, env: Record<string, string | undefined>): Promise<void> {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', fail);
    p.on('close', (code) => (code === 0 ? ok() : fail(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out}`))));
  });
}
