// App responses compressed by hostd (in the worker that made them), over real sockets through a
// real hostd: negotiation by Accept-Encoding q-values, Vary, what is never compressed (small
// bodies, binary types, no-transform, bodies the app encoded itself, ranges, HEAD), a mount's
// compression keys, streamed bodies and server-sent events still arriving one by one while
// compressed, and cached responses answered compressed from the response cache.
import http from 'node:http';
import zlib from 'node:zlib';
import { expect } from 'chai';
import { appCalls, CACHE_APP, fetchFrom, type Got, q } from './fixtures/cache/client.js';
import { startHost, type TestHost, withTimeout } from './helpers/index.js';

function decode(r: Got): string {
  const ce = r.headers['content-encoding'];
  if (ce === 'br') return zlib.brotliDecompressSync(r.body).toString();
  if (ce === 'gzip') return zlib.gunzipSync(r.body).toString();
  expect(ce, 'content-encoding').to.equal(undefined);
  return r.text;
}

describe('compression: app responses through hostd (socket)', function () {
  this.timeout(60_000);
  let h: TestHost;
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetchFrom(h.url(path), headers, method);
  const TEXT = { size: 20_000, etag: 'z1' };

  before(async () => {
    h = await startHost([
      {
        serverName: ['*'],
        apps: [
          { url: '/z', module: CACHE_APP, pool: { threads: 1 } },
          { url: '/zc', module: CACHE_APP, pool: { threads: 1 }, cache: { maxSize: '4mb' } },
          { url: '/zoff', module: CACHE_APP, pool: { threads: 1 }, compression: false },
          { url: '/zkeys', module: CACHE_APP, pool: { threads: 1 }, compression: { minSize: '5k', types: ['application/x-custom'] } },
        ],
      },
    ]);
  });
  after(() => h?.close());

  it('br or gzip by Accept-Encoding q-values; identity when refused or not asked; always Vary', async () => {
    const identity = (await get(`/z${q('/neg', TEXT)}`)).text; // no Accept-Encoding at all
    expect(identity.length).to.equal(20_000);
    const cases: [string, string | undefined][] = [
      ['gzip, deflate, br', 'br'],
      ['gzip', 'gzip'],
      ['br', 'br'],
      ['br;q=0.5, gzip;q=0.9', 'gzip'],
      ['gzip;q=0.4, br;q=0.8', 'br'],
      ['br;q=1, gzip;q=1', 'br'],
      ['br;q=0, gzip', 'gzip'],
      ['br;q=0, gzip;q=0', undefined],
      ['identity', undefined],
      ['deflate', undefined],
      ['*', 'br'],
      ['br;q=0, *;q=0.5', 'gzip'],
      ['', undefined], // an empty header: no preference
    ];
    for (const [ae, coding] of cases) {
      const r = await get(`/z${q('/neg', TEXT)}`, { 'accept-encoding': ae });
      expect([r.status, r.headers['content-encoding'], r.headers.vary], ae).to.deep.equal([200, coding, 'Accept-Encoding']);
      const decoded = decode(r);
      expect([decoded.length, decoded.slice(100) === identity.slice(100)], ae).to.deep.equal([20_000, true]);
      // A form hostd made carries a weak ETag and no Content-Length of the identity bytes.
      expect(r.headers.etag, ae).to.equal(coding === undefined ? '"z1"' : 'W/"z1"');
      if (coding !== undefined) expect(r.body.length, ae).to.be.below(20_000 / 2);
      if (r.headers['content-length'] !== undefined) expect(Number(r.headers['content-length']), ae).to.equal(r.body.length);
    }
    const plain = await get(`/z${q('/neg', TEXT)}`);
    expect([plain.headers['content-encoding'], plain.headers.vary]).to.deep.equal([undefined, 'Accept-Encoding']);
  });

  it('streamed bodies are compressed as they stream', async () => {
    for (const coding of ['br', 'gzip']) {
      const r = await get(`/z${q('/streamed', { ...TEXT, stream: 5 })}`, { 'accept-encoding': coding });
      expect([r.headers['content-encoding'], r.headers['content-length'], r.headers.vary]).to.deep.equal([
        coding,
        undefined,
        'Accept-Encoding',
      ]);
      expect(decode(r).length).to.equal(20_000);
    }
  });

  it('never: small bodies, types that do not compress, no-transform, bodies the app encoded', async () => {
    const ae = { 'accept-encoding': 'br, gzip' };
    const small = await get(`/z${q('/small', { size: 1000 })}`, ae);
    expect([small.headers['content-encoding'], small.headers.vary, small.body.length]).to.deep.equal([undefined, undefined, 1000]);
    const edge = await get(`/z${q('/edge', { size: 1024 })}`, ae); // minSize (1k) itself is compressed
    expect(edge.headers['content-encoding']).to.equal('br');
    for (const type of ['image/png', 'application/octet-stream', 'video/mp4']) {
      const r = await get(`/z${q('/binary', { size: 20_000, type })}`, ae);
      expect([r.headers['content-encoding'], r.headers.vary, r.body.length], type).to.deep.equal([undefined, undefined, 20_000]);
    }
    const nt = await get(`/z${q('/nt', { size: 20_000, cc: 'public, no-transform' })}`, ae);
    expect([nt.headers['content-encoding'], nt.headers.vary, nt.body.length]).to.deep.equal([undefined, undefined, 20_000]);
    const own = await get(`/z${q('/own', { size: 20_000, ce: 'gzip' })}`, { 'accept-encoding': 'br' });
    expect([own.headers['content-encoding'], own.headers.vary]).to.deep.equal(['gzip', undefined]);
    expect(decode(own).length).to.equal(20_000);
  });

  it("ranges: the app's 206 passes as it is; a 200 to a Range request is not compressed either", async () => {
    const ae = { 'accept-encoding': 'br, gzip', range: 'bytes=10-19' };
    const partial = await get(`/z${q('/ranged', { ...TEXT, range: 1 })}`, ae);
    expect([partial.status, partial.headers['content-encoding'], partial.headers['content-range'], partial.body.length]).to.deep.equal([
      206,
      undefined,
      'bytes 10-19/20000',
      10,
    ]);
    const whole = await get(`/z${q('/unranged', TEXT)}`, ae);
    expect([whole.status, whole.headers['content-encoding'], whole.headers.vary, whole.body.length]).to.deep.equal([
      200,
      undefined,
      'Accept-Encoding',
      20_000,
    ]);
  });

  it('HEAD says what GET would send', async () => {
    const ae = { 'accept-encoding': 'br' };
    const head = await get(`/z${q('/head', TEXT)}`, ae, 'HEAD');
    const full = await get(`/z${q('/head', TEXT)}`, ae);
    expect(head.body.length).to.equal(0);
    expect([head.status, head.headers['content-encoding'], head.headers.vary, head.headers.etag]).to.deep.equal([
      200,
      full.headers['content-encoding'],
      full.headers.vary,
      full.headers.etag,
    ]);
    // (The compressed length is known only once the body is made: HEAD may leave it out.)
    expect(head.headers['content-length']).to.be.oneOf([undefined, full.headers['content-length']]);
    const plain = await get(`/z${q('/head', TEXT)}`, {}, 'HEAD');
    expect([plain.headers['content-encoding'], plain.headers.vary, plain.headers['content-length']]).to.deep.equal([
      undefined,
      'Accept-Encoding',
      '20000',
    ]);
  });

  it("a mount's compression keys: off, types, minSize", async () => {
    const ae = { 'accept-encoding': 'br, gzip' };
    const off = await get(`/zoff${q('/off', TEXT)}`, ae);
    expect([off.headers['content-encoding'], off.headers.vary, off.body.length]).to.deep.equal([undefined, undefined, 20_000]);
    const listed = await get(`/zkeys${q('/custom', { size: 6000, type: 'application/x-custom' })}`, ae);
    expect(listed.headers['content-encoding']).to.equal('br');
    const under = await get(`/zkeys${q('/custom', { size: 4000, type: 'application/x-custom' })}`, ae);
    expect(under.headers['content-encoding']).to.equal(undefined);
    const unlisted = await get(`/zkeys${q('/html', { size: 6000, type: 'text/html' })}`, ae);
    expect(unlisted.headers['content-encoding']).to.equal(undefined);
  });

  for (const coding of ['gzip', 'br'] as const) {
    it(`server-sent events arrive one by one through ${coding}`, async () => {
      // The app sends event i+1 only after the test decoded event i and said so (/__next): if
      // hostd held chunks back in the compressor, the stream would stall (and the app, after
      // 10 s without a /__next, ends it with "event: timeout").
      const key = `sse-${coding}`;
      const decoder = coding === 'gzip' ? zlib.createGunzip() : zlib.createBrotliDecompress();
      let text = '';
      const seen: number[] = [];
      let headers: http.IncomingHttpHeaders = {};
      const done = new Promise<void>((resolve, reject) => {
        decoder.on('data', (b: Buffer) => {
          text += b.toString();
          for (const m of text.matchAll(/data: event (\d+)\n\n/g)) {
            const n = Number(m[1]);
            if (seen.includes(n)) continue;
            seen.push(n);
            void get(`/z/__next?key=${key}`);
          }
        });
        decoder.on('end', resolve);
        decoder.on('error', reject);
      });
      const req = http.get(h.url(`/z/sse?key=${key}&n=5`), { headers: { 'accept-encoding': coding } }, (res) => {
        headers = res.headers;
        res.pipe(decoder);
      });
      req.on('error', (err) => decoder.destroy(err));
      await withTimeout(done, 30_000, 'the event stream');
      expect([headers['content-encoding'], headers.vary, headers['content-type']]).to.deep.equal([
        coding,
        'Accept-Encoding',
        'text/event-stream',
      ]);
      expect(text).to.not.include('event: timeout');
      expect(seen).to.deep.equal([0, 1, 2, 3, 4]);
    });
  }

  it('on a cache mount, answers the cache does not keep are still compressed', async () => {
    const br = { 'accept-encoding': 'br' };
    // A URL found uncacheable (its first answer fills nothing; later ones pass the cache).
    const p = q('/private', { ...TEXT, cc: 'private, max-age=60' });
    await get(`/zc${p}`, br);
    const passed = await get(`/zc${p}`, br);
    expect([passed.headers['x-cache'], passed.headers['content-encoding']]).to.deep.equal(['MISS', 'br']);
    // Authorized requests always go to the app.
    const a = q('/authorized', { ...TEXT, cc: 'max-age=60' });
    const auth = await get(`/zc${a}`, { ...br, authorization: 'Bearer x' });
    expect([auth.headers['x-cache'], auth.headers['content-encoding']]).to.deep.equal(['MISS', 'br']);
    // Requests the cache bypasses (a Cookie).
    const cookie = await get(`/zc${q('/cookie', TEXT)}`, { ...br, cookie: 'a=1' });
    expect([cookie.headers['x-cache'], cookie.headers['content-encoding']]).to.deep.equal(['MISS', 'br']);
    // An authorized answer the cache may keep (public) is kept as the app's br bytes, for br clients.
    const shared = q('/authorized-public', { ...TEXT, cc: 'public, max-age=60' });
    const filled = await get(`/zc${shared}`, { ...br, authorization: 'Bearer x' });
    expect(filled.headers['content-encoding']).to.equal('br');
    const hit = await get(`/zc${shared}`, br);
    expect([hit.headers['x-cache'], hit.headers['content-encoding'], decode(hit)]).to.deep.equal(['HIT', 'br', decode(filled)]);
    const gz = await get(`/zc${shared}`, { 'accept-encoding': 'gzip' });
    expect([gz.headers['x-cache'], gz.headers['content-encoding'], decode(gz)]).to.deep.equal([
      'MISS',
      undefined,
      decode(filled).replace('call 1', 'call 2'),
    ]);
  });

  it('cached responses are kept compressed: later clients get their coding from the cache', async () => {
    const p = q('/cached', { ...TEXT, cc: 'max-age=600', type: 'text/html; charset=utf-8' });
    const first = await get(`/zc${p}`, { 'accept-encoding': 'br' });
    expect([first.status, first.headers['x-cache'], first.headers.vary]).to.deep.equal([200, 'MISS', 'Accept-Encoding']);
    const text = decode(first);
    expect(text.startsWith(`${p} call 1\n`)).to.equal(true);
    const br = await get(`/zc${p}`, { 'accept-encoding': 'br' });
    expect([br.headers['x-cache'], br.headers['content-encoding'], br.headers.vary, br.headers.etag]).to.deep.equal([
      'HIT',
      'br',
      'Accept-Encoding',
      'W/"z1"',
    ]);
    expect(decode(br)).to.equal(text);
    expect(Number(br.headers['content-length'])).to.equal(br.body.length);
    // The first hit asking gzip waits for the gzip form (made once) rather than getting identity.
    const gz = await get(`/zc${p}`, { 'accept-encoding': 'gzip' });
    expect([gz.headers['x-cache'], gz.headers['content-encoding']]).to.deep.equal(['HIT', 'gzip']);
    expect(decode(gz)).to.equal(text);
    const plain = await get(`/zc${p}`);
    expect([plain.headers['x-cache'], plain.headers['content-encoding'], plain.headers.vary, plain.text]).to.deep.equal([
      'HIT',
      undefined,
      'Accept-Encoding',
      text,
    ]);
    // Conditional and HEAD hits per representation.
    const n304 = await get(`/zc${p}`, { 'accept-encoding': 'br', 'if-none-match': 'W/"z1"' });
    expect([n304.status, n304.headers.etag, n304.headers['x-cache']]).to.deep.equal([304, 'W/"z1"', 'HIT']);
    const head = await get(`/zc${p}`, { 'accept-encoding': 'br' }, 'HEAD');
    expect([head.status, head.headers['content-encoding'], head.headers['content-length'], head.body.length]).to.deep.equal([
      200,
      'br',
      String(br.body.length),
      0,
    ]);
    const c = await appCalls(h.url(''), '/zc', p);
    expect(c.count).to.equal(1);
    expect(c.ae).to.deep.equal([null]); // the fill asked the app for identity bytes
  });
});
