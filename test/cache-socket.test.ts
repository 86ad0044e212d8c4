// The response cache over real sockets: a uWS front using the engine in front of a real origin
// (test/fixtures/cache/front.ts), clients are undici. X-Cache, Age, 304s to conditional clients,
// coalescing of concurrent misses, stale answers, revalidation, compressed hits, purge, limits.
import type http from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import { Pool, request } from 'undici';
import { startCacheFront, type CacheFront } from './fixtures/cache/front.js';

interface Got {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text: string;
}

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<Got> {
  const r = await request(url, { method, headers });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers as Record<string, string>, body, text: body.toString() };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

describe('response cache (socket)', function () {
  this.timeout(30_000);
  let front: CacheFront;
  let clock = 1_700_000_000_000;
  const routes = new Map<string, Route>();
  const calls = (path: string) => front.originCalls.filter((c) => c.url === path).length;

  before(async () => {
    front = await startCacheFront({
      cache: { now: () => clock, maxObjectSize: 64 * 1024 },
      origin: (req, res) => {
        const route = routes.get((req.url ?? '').split('?')[0]);
        if (route) route(req, res);
        else res.writeHead(404).end('no route\n');
      },
    });
  });
  after(() => front?.close());

  it('MISS, then HIT with Age, the same body and the origin\'s headers', async () => {
    let n = 0;
    routes.set('/basic', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=60', 'x-app': 'yes', etag: '"b1"' });
      res.end(`body ${++n}`);
    });
    const miss = await get(front.url('/basic'));
    expect([miss.status, miss.headers['x-cache'], miss.text]).to.deep.equal([200, 'MISS', 'body 1']);
    clock += 7000;
    const hit = await get(front.url('/basic'));
    expect([hit.status, hit.headers['x-cache'], hit.text, hit.headers.age]).to.deep.equal([200, 'HIT', 'body 1', '7']);
    expect(hit.headers['x-app']).to.equal('yes');
    expect(hit.headers['content-type']).to.equal('text/plain');
    expect(hit.headers['cache-control']).to.equal('public, max-age=60');
    expect(hit.headers['content-length']).to.equal('6');
    expect(typeof hit.headers.date).to.equal('string'); // one Date, uWS's
    expect(calls('/basic')).to.equal(1);
    clock += 60_000;
    const again = await get(front.url('/basic'));
    expect([again.headers['x-cache'], again.text]).to.deep.equal(['MISS', 'body 2']);
  });

  it('answers conditional clients with 304 from the cache', async () => {
    routes.set('/cond', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600', etag: '"c1"', 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
      res.end('conditional');
    });
    await get(front.url('/cond'));
    const inm = await get(front.url('/cond'), { 'if-none-match': '"c1"' });
    expect([inm.status, inm.headers['x-cache'], inm.headers.etag, inm.body.length]).to.deep.equal([304, 'HIT', '"c1"', 0]);
    expect(inm.headers['cache-control']).to.equal('max-age=600');
    const ims = await get(front.url('/cond'), { 'if-modified-since': 'Wed, 21 Oct 2015 07:28:00 GMT' });
    expect(ims.status).to.equal(304);
    const other = await get(front.url('/cond'), { 'if-none-match': '"zz"' });
    expect([other.status, other.text]).to.deep.equal([200, 'conditional']);
    expect(calls('/cond')).to.equal(1);
  });

  it('a conditional client on a miss gets a 304 while the cache stores the full answer', async () => {
    routes.set('/cond-miss', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600', etag: '"m1"' });
      res.end('full');
    });
    const r = await get(front.url('/cond-miss'), { 'if-none-match': '"m1"' });
    expect([r.status, r.headers['x-cache'], r.headers.etag]).to.deep.equal([304, 'MISS', '"m1"']);
    expect(front.originCalls.find((c) => c.url === '/cond-miss')!.headers['if-none-match']).to.equal(undefined); // stripped
    const hit = await get(front.url('/cond-miss'));
    expect([hit.status, hit.headers['x-cache'], hit.text]).to.deep.equal([200, 'HIT', 'full']);
  });

  it('50 concurrent requests for a missing URL make one origin call', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    routes.set('/herd', (_req, res) => {
      void gate.then(() => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
        res.end('once');
      });
    });
    const pool = new Pool(front.url('/'), { connections: 50 });
    const before = front.cache.stats().coalescedWaits;
    try {
      const all = Array.from({ length: 50 }, () =>
        pool.request({ path: '/herd', method: 'GET' }).then(async (r) => ({ status: r.statusCode, xcache: r.headers['x-cache'], text: await r.body.text() })),
      );
      // Every request has reached the front: one is at the origin, 49 wait for it.
      await until('49 coalesced waiters and the one origin call', () => front.cache.stats().coalescedWaits - before === 49 && calls('/herd') === 1);
      release();
      const results = await Promise.all(all);
      expect(results.every((r) => r.status === 200 && r.text === 'once')).to.equal(true);
      expect(results.filter((r) => r.xcache === 'MISS').length).to.equal(1);
      expect(results.filter((r) => r.xcache === 'HIT').length).to.equal(49);
      expect(calls('/herd')).to.equal(1);
    } finally {
      release(); // (a failure above must not leave the requests hanging)
      await pool.close();
    }
  });

  it('stale-while-revalidate: STALE at once, one background refresh, then the new body', async () => {
    let n = 0;
    routes.set('/swr', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=10, stale-while-revalidate=60' });
      res.end(`swr ${++n}`);
    });
    await get(front.url('/swr'));
    clock += 15_000;
    const stale = await get(front.url('/swr'));
    expect([stale.headers['x-cache'], stale.text, stale.headers.age]).to.deep.equal(['STALE', 'swr 1', '15']);
    await until('the refresh', async () => (await get(front.url('/swr'))).text === 'swr 2');
    const fresh = await get(front.url('/swr'));
    expect([fresh.headers['x-cache'], fresh.text]).to.deep.equal(['HIT', 'swr 2']);
    expect(calls('/swr')).to.equal(2);
  });

  it('stale-if-error: a 503 from the origin is answered with the stale entry', async () => {
    let fail = false;
    routes.set('/sie', (_req, res) => {
      if (fail) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=10, stale-if-error=300' });
      res.end('kept');
    });
    await get(front.url('/sie'));
    clock += 20_000;
    fail = true;
    const r = await get(front.url('/sie'));
    expect([r.status, r.headers['x-cache'], r.text]).to.deep.equal([200, 'STALE', 'kept']);
    clock += 400_000;
    const gone = await get(front.url('/sie'));
    expect([gone.status, gone.headers['x-cache'], gone.text]).to.deep.equal([503, 'MISS', 'down']);
  });

  it('a stale entry is revalidated with a conditional request; the 304 renews it', async () => {
    routes.set('/reval', (req, res) => {
      if (req.headers['if-none-match'] === '"r1"') return void res.writeHead(304, { etag: '"r1"', 'cache-control': 'max-age=100' }).end();
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=10', etag: '"r1"' });
      res.end('revalidated body');
    });
    await get(front.url('/reval'));
    clock += 11_000;
    const r = await get(front.url('/reval'));
    expect([r.status, r.headers['x-cache'], r.text, r.headers['cache-control']]).to.deep.equal([200, 'MISS', 'revalidated body', 'max-age=100']);
    const sent = front.originCalls.filter((c) => c.url === '/reval');
    expect(sent.map((c) => c.headers['if-none-match'])).to.deep.equal([undefined, '"r1"']);
    clock += 50_000;
    expect((await get(front.url('/reval'))).headers['x-cache']).to.equal('HIT');
    expect(calls('/reval')).to.equal(2);
  });

  it('private, no-store and Set-Cookie answers pass through, every time', async () => {
    let n = 0;
    routes.set('/private', (_req, res) => res.writeHead(200, { 'cache-control': 'private, max-age=60' }).end(`p${++n}`));
    routes.set('/cookie', (_req, res) => res.writeHead(200, { 'cache-control': 'public, max-age=60', 'set-cookie': 'a=1' }).end(`c${++n}`));
    for (const path of ['/private', '/cookie']) {
      const a = await get(front.url(path));
      const b = await get(front.url(path));
      expect([a.headers['x-cache'], b.headers['x-cache']]).to.deep.equal(['MISS', 'MISS']);
      expect(a.text).to.not.equal(b.text);
    }
    // A request with a cookie bypasses a cached URL.
    routes.set('/shared', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('shared'));
    await get(front.url('/shared'));
    expect((await get(front.url('/shared'))).headers['x-cache']).to.equal('HIT');
    expect((await get(front.url('/shared'), { cookie: 'session=1' })).headers['x-cache']).to.equal('MISS');
  });

  it('keeps compressed forms of a cached body and answers with them, Vary and weak ETag', async () => {
    const text = 'cached text that compresses well. '.repeat(300);
    routes.set('/text', (_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'max-age=600', etag: '"t1"' }).end(text));
    const miss = await get(front.url('/text'), { 'accept-encoding': 'br' });
    expect(miss.headers['x-cache']).to.equal('MISS');
    expect(miss.headers['content-encoding']).to.equal('br'); // the miss is compressed as it streams
    expect(brotliDecompressSync(miss.body).toString()).to.equal(text);
    // Hits: identity until the cache has made the br form, then br from memory.
    await until('the br form', async () => (await get(front.url('/text'), { 'accept-encoding': 'br' })).headers['content-encoding'] === 'br');
    const br = await get(front.url('/text'), { 'accept-encoding': 'gzip, br' });
    expect([br.headers['x-cache'], br.headers['content-encoding'], br.headers.vary, br.headers.etag]).to.deep.equal(['HIT', 'br', 'Accept-Encoding', 'W/"t1"']);
    expect(brotliDecompressSync(br.body).toString()).to.equal(text);
    expect(Number(br.headers['content-length'])).to.equal(br.body.length);
    const plain = await get(front.url('/text'));
    expect([plain.headers['content-encoding'], plain.headers.vary, plain.text]).to.deep.equal([undefined, 'Accept-Encoding', text]);
    await until('the gzip form', async () => (await get(front.url('/text'), { 'accept-encoding': 'gzip' })).headers['content-encoding'] === 'gzip');
    const gz = await get(front.url('/text'), { 'accept-encoding': 'gzip' });
    expect(gunzipSync(gz.body).toString()).to.equal(text);
    const n304 = await get(front.url('/text'), { 'accept-encoding': 'br', 'if-none-match': 'W/"t1"' });
    expect([n304.status, n304.headers.etag]).to.deep.equal([304, 'W/"t1"']);
    const head = await get(front.url('/text'), { 'accept-encoding': 'br' }, 'HEAD');
    expect([head.status, head.headers['content-length'], head.body.length]).to.deep.equal([200, String(br.body.length), 0]);
    expect(calls('/text')).to.equal(1);
  });

  it('serves a single range of a cached body from memory', async () => {
    routes.set('/range', (_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=600' }).end('0123456789'));
    await get(front.url('/range'));
    const r = await get(front.url('/range'), { range: 'bytes=2-5' });
    expect([r.status, r.text, r.headers['content-range'], r.headers['x-cache']]).to.deep.equal([206, '2345', 'bytes 2-5/10', 'HIT']);
    expect((await get(front.url('/range'), { range: 'bytes=50-60' })).status).to.equal(416);
  });

  it('purge by URL and by prefix', async () => {
    routes.set('/p/a', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=600' }).end('a'));
    routes.set('/p/b', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=600' }).end('b'));
    for (const p of ['/p/a', '/p/b', '/p/a?v=2']) await get(front.url(p));
    expect((await get(front.url('/p/a'))).headers['x-cache']).to.equal('HIT');
    expect(front.cache.purge('/p/a')).to.equal(1);
    expect((await get(front.url('/p/a'))).headers['x-cache']).to.equal('MISS');
    expect((await get(front.url('/p/a?v=2'))).headers['x-cache']).to.equal('HIT');
    expect(front.cache.purgePrefix('/p/')).to.equal(3);
    expect((await get(front.url('/p/b'))).headers['x-cache']).to.equal('MISS');
  });

  it('a streamed answer bigger than maxObjectSize reaches the client whole and is not stored', async () => {
    const chunk = Buffer.alloc(16 * 1024, 'z');
    routes.set('/huge', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=600' });
      for (let i = 0; i < 8; i++) res.write(chunk); // 128 KiB, no Content-Length
      res.end();
    });
    const before = front.cache.stats().abandoned;
    const a = await get(front.url('/huge'));
    expect([a.status, a.body.length, a.headers['x-cache']]).to.deep.equal([200, 128 * 1024, 'MISS']);
    expect(front.cache.stats().abandoned - before).to.equal(1);
    expect((await get(front.url('/huge'))).headers['x-cache']).to.equal('MISS');
    expect(calls('/huge')).to.equal(2);
  });
});
