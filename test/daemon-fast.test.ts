// The worker's fast path: lightweight Request/Response objects must behave as undici's own, the
// front's 431 / HEAD / method handling, and the workers' NODE_ENV default.
import { resolve } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { request } from 'undici';
import { isCanonicalUrl } from '../daemon/worker/light-request.js';
import { headEnd, quietLog, RawClient, startHost, type TestHost, waitFor } from './helpers/index.js';

const APP = resolve('test/fixtures/daemon-fast/app.mjs');

/**
 * One keep-alive connection, requests sent one after another (uWS does not take pipelined
 * requests to async handlers): each answer is read until `done(answerSoFar)` says it is complete.
 * A body leaking after a HEAD answer would arrive before the next answer's status line, so each
 * sequence ends with a GET whose answer must start with "HTTP/1.1".
 */
async function sequential(port: number, steps: { send: string; done: (t: string) => boolean }[]): Promise<string[]> {
  const conn = await RawClient.connect(port);
  const answers: string[] = [];
  try {
    for (const step of steps) {
      conn.write(step.send);
      const text = await conn.read(step.done);
      if (!step.done(text)) throw new Error(`connection closed; got ${JSON.stringify(text)}`);
      answers.push(text);
    }
  } finally {
    conn.destroy();
  }
  return answers;
}

describe('daemon fast path: light Request/Response, HEAD, 431, NODE_ENV', function () {
  this.timeout(20000);
  let h: TestHost;
  const log = quietLog();
  let savedNodeEnv: string | undefined;

  before(async () => {
    savedNodeEnv = process.env.NODE_ENV;
    delete process.env.NODE_ENV; // the default applies only when hostd's environment has none
    h = await startHost(
      [
        {
          serverName: ['*'],
          apps: [
            { url: '/', module: APP, pool: { threads: 1 } },
            { url: '/dev', module: APP, pool: { threads: 1, env: { NODE_ENV: 'development' } } },
          ],
        },
      ],
      { errorLog: log },
    );
  });
  after(async () => {
    await h?.close();
    if (savedNodeEnv !== undefined) process.env.NODE_ENV = savedNodeEnv;
  });

  describe('requests', () => {
    it('look like undici Requests: instanceof, method, canonical url, headers, null body, signal', async () => {
      const res = await request(h.url('/info?q=1'), { headers: { 'x-one': 'a', 'X-Two': 'b' } });
      const info = (await res.body.json()) as Record<string, unknown>;
      expect(info.isRequest).to.equal(true);
      expect(info.toString).to.equal('[object Request]');
      expect(info.method).to.equal('GET');
      expect(info.url).to.equal(`http://127.0.0.1:${h.port}/info?q=1`);
      expect(info.headers).to.deep.include.members([
        ['x-one', 'a'],
        ['x-two', 'b'],
      ]);
      expect(info.bodyIsNull).to.equal(true);
      expect(info.bodyUsed).to.equal(false);
      expect(info.signal).to.equal(true);
      expect(info.cache).to.equal('default'); // a property only the real Request has
    });

    it('normalise URLs exactly as undici does (dot segments, default port, quotes in the query)', async () => {
      const res = await request(`http://127.0.0.1:${h.port}/a/../info?x='y`, { headers: { host: `LOCALHOST:80` } });
      const info = (await res.body.json()) as { url: string };
      expect(info.url).to.equal(`http://localhost/info?x=%27y`);
    });

    it('give the method in uppercase (uWS reports it lowercased)', async () => {
      for (const method of ['PATCH', 'DELETE', 'OPTIONS', 'PUT']) {
        const res = await request(h.url('/info'), { method: method as 'PATCH' });
        expect(((await res.body.json()) as { method: string }).method).to.equal(method);
      }
    });

    it('read a JSON body once; a second read rejects with TypeError', async () => {
      const res = await request(h.url('/json'), { method: 'POST', body: JSON.stringify({ x: [1, 2] }) });
      expect(await res.body.json()).to.deep.equal({ got: { x: [1, 2] }, again: 'TypeError', used: true });
    });

    it('decode text as UTF-8 with the BOM stripped', async () => {
      const res = await request(h.url('/text-bom'), { method: 'POST', body: Buffer.from('\uFEFFhé', 'utf8') });
      expect(await res.body.text()).to.equal('2');
    });

    it('give arrayBuffer() the exact bytes, also across several chunks', async () => {
      const body = Buffer.alloc(300_000);
      for (let i = 0; i < body.length; i++) body[i] = i & 255;
      const res = await request(h.url('/bytes'), { method: 'POST', body });
      const back = Buffer.from(await res.body.arrayBuffer());
      expect(back.equals(Buffer.from(body).reverse())).to.equal(true);
    });

    it('still stream request.body, clone(), and wrap into new Request(request)', async () => {
      const s = await request(h.url('/stream'), { method: 'POST', body: 'x'.repeat(70_000) });
      expect(await s.body.text()).to.equal('70000 true');
      const c = await request(h.url('/clone'), { method: 'POST', body: 'abc' });
      expect(await c.body.text()).to.equal('abc|abc');
      const w = await request(h.url('/wrap'), { method: 'PUT', body: 'body!' });
      expect(await w.body.text()).to.equal(`PUT http://127.0.0.1:${h.port}/wrap true yes body!`);
    });

    it('can be passed to fetch()', async () => {
      const res = await request(h.url('/refetch'));
      expect(await res.body.text()).to.equal('200 proxied GET true');
    });

    it('abort request.signal when the client goes away', async () => {
      const before = Number(await (await request(h.url('/aborts'))).body.text());
      const ac = new AbortController();
      const p = request(h.url('/wait'), { signal: ac.signal }).catch(() => undefined);
      await waitFor(async () => (await h.pool('/')).inFlight === 1, { what: '/wait to reach the worker' });
      ac.abort();
      await p;
      const aborts = async () => Number(await (await request(h.url('/aborts'))).body.text());
      const after = await waitFor(
        async () => {
          const n = await aborts();
          return n > before ? n : 0;
        },
        { what: 'the app to count the abort' },
      );
      expect(after).to.equal(before + 1);
    });
  });

  describe('responses', () => {
    it('Response.json: status, type, the app’s headers; its own content-type wins', async () => {
      const res = await request(h.url('/resp-json'));
      expect(res.statusCode).to.equal(201);
      expect(res.headers['content-type']).to.equal('application/json');
      expect(res.headers['x-a']).to.equal('b');
      expect(await res.body.json()).to.deep.equal({ a: 1 });
      const typed = await request(h.url('/resp-json-typed'));
      expect(typed.headers['content-type']).to.equal('application/vnd.x+json');
      expect(await typed.body.text()).to.equal('[1]');
    });

    it('headers changed after construction are sent; Set-Cookie stays separate', async () => {
      const res = await request(h.url('/resp-mutate'));
      expect(res.headers['x-one']).to.equal('1');
      expect(res.headers['x-two']).to.equal('2');
      expect(res.headers['set-cookie']).to.deep.equal(['a=1', 'b=2']);
      expect(res.headers['content-type']).to.equal('text/plain;charset=UTF-8');
    });

    it('header names differing only in case are combined, as undici does', async () => {
      const res = await request(h.url('/resp-sorted'));
      expect(res.headers['x-a']).to.equal('1, 0');
      expect(res.headers['x-b']).to.equal('2');
    });

    it('a bytes body is a snapshot taken at construction', async () => {
      const res = await request(h.url('/resp-bytes'));
      const text = await res.body.text();
      expect(text).to.equal('a'.repeat(8192));
      expect(res.headers['content-type']).to.equal(undefined);
    });

    it('large bodies stay intact while their buffers are recycled between worker and front', async () => {
      const sizes = [4096, 5000, 65536, 70000, 300_000, 1 << 20, 1_500_000];
      // Round after round, so later rounds travel in buffers that earlier ones brought back.
      for (let round = 0; round < 4; round++) {
        const jobs = sizes.map(async (n, k) => {
          const seed = round * 16 + k + 1;
          const stream = (round + k) % 2;
          const res = await request(h.url(`/pattern?n=${n}&seed=${seed}&stream=${stream}`));
          const got = Buffer.from(await res.body.arrayBuffer());
          expect(got.length, `n=${n}`).to.equal(n);
          for (let i = 0; i < n; i++) {
            if (got[i] !== ((i * seed + seed) & 255)) throw new Error(`n=${n} seed=${seed}: byte ${i} is ${got[i]}`);
          }
        });
        await Promise.all(jobs);
      }
    });

    it('a response the app read behaves as undici’s; a used body is a 500', async () => {
      const res = await request(h.url('/resp-read'));
      expect(await res.body.text()).to.equal('abc:abc:true:202');
      const used = await request(h.url('/resp-reuse-read'));
      expect(used.statusCode).to.equal(500);
      await used.body.dump();
    });

    it('instanceof, statics, subclasses and validation errors are undici’s', async () => {
      const res = await request(h.url('/resp-checks'));
      expect(await res.body.json()).to.deep.equal({
        plain: true,
        error: true,
        redirect: 'http://example.com/',
        sub: true,
        toString: '[object Response]',
        stream: 'function',
        ok: false,
        badStatus: 'RangeError',
        nullBody: 'TypeError',
        badHeader: 'TypeError',
        badJson: 'TypeError',
        ctorName: 'Response',
      });
    });
  });

  describe('the front', () => {
    it('HEAD: headers and Content-Length without a body; the keep-alive connection stays usable', async () => {
      const [head, get] = await sequential(h.port, [
        { send: 'HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n', done: headEnd },
        { send: 'GET /head HTTP/1.1\r\nHost: x\r\n\r\n', done: (t) => t.endsWith('hello head') },
      ]);
      expect(head).to.match(/^HTTP\/1\.1 200 /);
      expect(head.toLowerCase()).to.include('content-length: 10\r\n');
      expect(head.toLowerCase()).to.include('x-h: 1\r\n');
      expect(head.endsWith('\r\n\r\n')).to.equal(true); // nothing after the head
      expect(get).to.match(/^HTTP\/1\.1 200 /);
      expect(get.endsWith('\r\n\r\nhello head')).to.equal(true);
    });

    it('HEAD of a streamed response, and 204, keep the connection usable too', async () => {
      const [head, noContent, get] = await sequential(h.port, [
        { send: 'HEAD /stream-out HTTP/1.1\r\nHost: x\r\n\r\n', done: headEnd },
        { send: 'GET /no-content HTTP/1.1\r\nHost: x\r\n\r\n', done: headEnd },
        { send: 'GET /head HTTP/1.1\r\nHost: x\r\n\r\n', done: (t) => t.endsWith('hello head') },
      ]);
      expect(head).to.match(/^HTTP\/1\.1 200 /);
      expect(head.endsWith('\r\n\r\n')).to.equal(true);
      expect(noContent).to.match(/^HTTP\/1\.1 204 /);
      expect(noContent.endsWith('\r\n\r\n')).to.equal(true);
      expect(get).to.match(/^HTTP\/1\.1 200 /);
    });

    it('answers 431 to an app request whose header block is over the limit', async () => {
      const big = 'v'.repeat(17 * 1024);
      const res = await request(h.url('/info'), { headers: { 'x-big': big } });
      expect(res.statusCode).to.equal(431);
      await res.body.dump();
      const ok = await request(h.url('/info'), { headers: { 'x-big': 'v'.repeat(8 * 1024) } });
      expect(ok.statusCode).to.equal(200);
      await ok.body.dump();
    });
  });

  it('workers run with NODE_ENV=production unless the pool env (or hostd’s) sets it', async () => {
    const prod = (await (await request(h.url('/info'))).body.json()) as { nodeEnv: string };
    expect(prod.nodeEnv).to.equal('production');
    const dev = (await (await request(h.url('/dev/info'))).body.json()) as { nodeEnv: string };
    expect(dev.nodeEnv).to.equal('development');
  });
});

describe('daemon fast path: canonical URL check', () => {
  it('a URL taken without parsing is exactly what the WHATWG parser would make of it', () => {
    const chars = 'abcAZ09-._~!$&\'()*+,;=:@/%?.#[]{}|\\^` "<>\u00e9';
    const part = fc.string({ unit: fc.constantFrom(...chars.split('')), maxLength: 12 });
    const host = fc.constantFrom(
      'app.bench',
      'a',
      'LOCAL',
      'x.y.z',
      '127.0.0.1',
      '1.2.3',
      '0x7f.1',
      'xn--nxasmq6b',
      '256.1.1.1',
      'a..b',
      'a-b.c-',
    );
    const port = fc.constantFrom('', ':80', ':443', ':8080', ':0', ':080', ':65536', ':1');
    fc.assert(
      fc.property(fc.constantFrom('http', 'https'), host, port, part, part, (scheme, hst, prt, path, query) => {
        const url = `${scheme}://${hst}${prt}/${path}${query ? '?' + query : ''}`;
        if (!isCanonicalUrl(url)) return;
        expect(new URL(url).href).to.equal(url);
      }),
      { numRuns: 3000 },
    );
    expect(isCanonicalUrl('http://app.bench/hello')).to.equal(true);
    expect(isCanonicalUrl('http://127.0.0.1:8080/a/b?c=d&e=%20')).to.equal(true);
  });
});
