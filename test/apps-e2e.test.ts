// End to end over a real socket: npm apps (Express 5, Hono) and a TypeScript app mounted through
// createHost (startHost), each in its own worker pool, fetched with undici.
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { request } from 'undici';
import { freePort, quietLog, startHost, type TestHost, withTimeout } from './helpers/index.js';

const NODE = resolve('test/fixtures/node-apps');
const TS = resolve('test/fixtures/ts-apps');

describe('apps: end to end through the host', function () {
  this.timeout(30000);
  let h: TestHost;

  before(async () => {
    h = await startHost([
      {
        serverName: ['express.test'],
        apps: [{ url: '/api', module: join(NODE, 'express-app.mjs'), pool: { threads: 1 } }],
      },
      {
        serverName: ['hono.test'],
        apps: [
          { url: '/api', module: join(NODE, 'hono-app.mjs'), pool: { threads: 1 } },
          { url: '/full', module: join(NODE, 'hono-full-path.mjs'), stripPrefix: false, pool: { threads: 1 } },
        ],
      },
      {
        serverName: ['ts.test'],
        apps: [{ url: '/ts', module: join(TS, 'basic/app.ts'), pool: { threads: 1, env: { GREETING: 'hej' } } }],
      },
      {
        serverName: ['raw.test'],
        apps: [{ url: '/', module: join(NODE, 'raw-listener.mjs'), interface: 'node', pool: { threads: 1 } }],
      },
    ]);
  });
  after(async () => {
    await h?.close();
  });

  const get = (host: string, path: string, init: Parameters<typeof request>[1] = {}) =>
    request(h.url(path), { ...init, headers: { host, ...(init.headers as Record<string, string> | undefined) } });

  describe('Express 5 at /api', () => {
    it('routes under the mount, sees the client address, sends two cookies', async () => {
      const res = await get('express.test', '/api/hello');
      expect(res.statusCode).to.equal(200);
      const body = (await res.body.json()) as Record<string, string>;
      expect(body.hello).to.equal('express');
      expect(body.url).to.equal('/hello');
      expect(body.originalUrl).to.equal('/api/hello');
      expect(body.ip).to.match(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
      expect(res.headers['set-cookie']).to.deep.equal(['s1=x; Path=/', 's2=y; Path=/']);
    });

    it('parses a JSON POST body', async () => {
      const res = await get('express.test', '/api/echo', {
        method: 'POST',
        body: JSON.stringify({ n: 42, s: 'ü' }),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode).to.equal(201);
      expect(await res.body.json()).to.deep.equal({ got: { n: 42, s: 'ü' }, type: 'application/json' });
    });

    it('streams res.write() to the client before res.end()', async () => {
      const res = await get('express.test', '/api/stream');
      const chunks = res.body[Symbol.asyncIterator]();
      // The route ends only when /api/release is asked for (same single worker): reading "one"
      // before that proves the write was streamed through the pool and the front.
      const first = await withTimeout(chunks.next(), 10_000, 'the first chunk, before res.end()');
      expect(String(first.value)).to.equal('one\n');
      expect(await (await get('express.test', '/api/release')).body.text()).to.equal('1');
      let rest = '';
      for (let c = await chunks.next(); !c.done; c = await chunks.next()) rest += String(c.value);
      expect(rest).to.equal('two\n');
    });
  });

  describe('Hono at /api', () => {
    it('sees mount-relative URLs with the prefix in X-Forwarded-Prefix, and parses a POSTed body', async () => {
      const res = await get('hono.test', '/api/hello?x=1');
      expect(res.statusCode).to.equal(200);
      const body = (await res.body.json()) as { hello: string; url: string; prefix: string };
      expect(body.hello).to.equal('hono');
      expect(body.url).to.equal('http://hono.test/hello?x=1');
      expect(body.prefix).to.equal('/api');
      const post = await get('hono.test', '/api/echo', {
        method: 'POST',
        body: '{"x":[1,2,3]}',
        headers: { 'content-type': 'application/json' },
      });
      expect(await post.body.json()).to.deep.equal({ got: { x: [1, 2, 3] } });
    });

    it('stripPrefix: false hands over the full path, without X-Forwarded-Prefix', async () => {
      const res = await get('hono.test', '/full/hello');
      expect(res.statusCode).to.equal(200);
      expect(await res.body.json()).to.deep.equal({ url: 'http://hono.test/full/hello', prefix: null });
    });

    it('keeps two Set-Cookie headers apart', async () => {
      const res = await get('hono.test', '/api/cookies');
      expect(res.headers['set-cookie']).to.deep.equal(['h1=1', 'h2=2']);
      await res.body.text();
    });
  });

  describe('a TypeScript app and a raw node listener', () => {
    it('runs the .ts app with its env', async () => {
      const res = await get('ts.test', '/ts/x?name=lin');
      const body = (await res.body.json()) as Record<string, unknown>;
      expect(body).to.deep.include({ greeting: 'hello lin', env: 'hej', mount: '/ts' });
    });

    it('streams a multi-MB upload into a node listener', async () => {
      const size = 8 * 1024 * 1024;
      const res = await get('raw.test', '/upload', { method: 'POST', body: Buffer.alloc(size, 1) });
      const body = (await res.body.json()) as { bytes: number; complete: boolean };
      expect(body.bytes).to.equal(size);
      expect(body.complete).to.equal(true);
    });

    it('serves a 5 MB streamed node response intact', async () => {
      const res = await get('raw.test', '/big');
      const buf = Buffer.from(await res.body.arrayBuffer());
      expect(buf.length).to.equal(80 * 64 * 1024);
      expect(buf.every((b) => b === 120)).to.equal(true);
    });
  });
});

describe('apps: an app that calls listen() itself', function () {
  this.timeout(30000);

  it('is served on its mount; no worker binds the port it asked for; its listen callback runs', async () => {
    // A port that was free a moment ago: the app asks for it, nothing may end up listening there.
    const port = await freePort();

    const log = quietLog();
    const h = await startHost(
      [
        {
          serverName: ['solo.test'],
          apps: [{ url: '/', module: join(NODE, 'listen-only.mjs'), pool: { threads: 2, env: { PORT: String(port) } } }],
        },
      ],
      { errorLog: log },
    );
    try {
      for (let i = 0; i < 4; i++) {
        const res = await request(h.url('/'), { headers: { host: 'solo.test' } });
        expect(res.statusCode).to.equal(200);
        const body = (await res.body.json()) as { hello: string; listened: { port: number } | null };
        expect(body.hello).to.equal('listen-only');
        expect(body.listened?.port).to.equal(port);
      }
      const refused = await new Promise<string>((ok) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          ok('connected');
        });
        s.once('error', (e: NodeJS.ErrnoException) => ok(e.code ?? 'error'));
      });
      expect(refused).to.equal('ECONNREFUSED');
      const notices = log.lines.filter((l) => l.includes(`the app called listen(${port})`));
      expect(notices).to.have.length(2); // one per worker
      expect(log.lines.filter((l) => l.includes(`listening on ${port}`))).to.have.length(2); // the callbacks' output
    } finally {
      await h.close();
    }
  });
});
