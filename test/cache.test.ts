// The response cache engine, rule by rule, driven the way the front drives it (lookup, then
// hit / stale / fetch / wait), with a fake origin function as its input and a clock the test
// moves. Over real sockets through hostd: cache-hostd.test.ts.
import { expect } from 'chai';
import { ResponseCache, type CacheStats, type Filler, type Lookup, type ResponseCacheOptions } from '../native-front/cache/index.js';
import { HeaderSnapshot } from '../native-front/cache/headers.js';

interface OriginReq {
  url: string;
  headers: Record<string, string>;
}
interface OriginRes {
  status: number;
  headers?: Record<string, string>;
  /** Chunks of the body (the filler gets them one by one). */
  body?: string[];
}
type Origin = (req: OriginReq) => Promise<OriginRes> | OriginRes;

interface Served {
  label: 'HIT' | 'MISS' | 'STALE' | 'PASS';
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** A test bench: the cache, a clock, an origin that counts its calls, and the front's loop. */
class Bench {
  now = 1_700_000_000_000;
  calls: OriginReq[] = [];
  background: Promise<void>[] = [];
  readonly cache: ResponseCache;

  constructor(
    public origin: Origin,
    opts: Partial<ResponseCacheOptions> = {},
  ) {
    this.cache = new ResponseCache({ maxSize: 1 << 20, now: () => this.now, ...opts });
  }

  advance(seconds: number): void {
    this.now += seconds * 1000;
  }

  stats(): CacheStats {
    return this.cache.stats();
  }

  async get(url: string, headers: Record<string, string> = {}, method = 'get', host = 'example.test'): Promise<Served> {
    const req = new HeaderSnapshot(Object.entries(headers).flat());
    let r: Lookup = this.cache.lookup(method, host, url, req);
    while (r.kind === 'wait') r = await r.promise;
    switch (r.kind) {
      case 'hit':
        return this.fromEntry('HIT', r.entry);
      case 'stale': {
        const entry = r.entry;
        if (r.refresh !== null) this.background.push(this.fetch(r.refresh, url, headers).then(() => undefined));
        return this.fromEntry('STALE', entry);
      }
      case 'fetch':
        return this.fetch(r.filler, url, headers);
      case 'bypass': {
        const res = await this.call(url, headers);
        return { label: 'PASS', status: res.status, body: (res.body ?? []).join(''), headers: res.headers ?? {} };
      }
    }
  }

  /** Runs every background refresh started so far. */
  async settle(): Promise<void> {
    while (this.background.length) await this.background.shift();
  }

  private async call(url: string, headers: Record<string, string>): Promise<OriginRes> {
    const req = { url, headers };
    this.calls.push(req);
    return this.origin(req);
  }

  private async fetch(f: Filler, url: string, headers: Record<string, string>): Promise<Served> {
    const sent = f.applyTo(Object.entries(headers).flat());
    const h: Record<string, string> = {};
    for (let i = 0; i < sent.length; i += 2) h[sent[i]] = sent[i + 1];
    let res: OriginRes;
    try {
      res = await this.call(url, h);
    } catch {
      const stale = f.abort(new Error('origin failed'));
      if (stale) return this.fromEntry('STALE', stale);
      return { label: 'MISS', status: 502, body: '', headers: {} };
    }
    const flat = Object.entries(res.headers ?? {}).flat();
    const d = f.head(res.status, flat);
    if (d.kind === 'serve') return this.fromEntry(d.label, d.entry);
    let body = '';
    for (const chunk of res.body ?? []) {
      f.body(Buffer.from(chunk));
      body += chunk;
    }
    f.end();
    return { label: 'MISS', status: res.status, body, headers: res.headers ?? {} };
  }

  private fromEntry(label: Served['label'], e: { status: number; body: Buffer; headers: string[]; age(now: number): number }): Served {
    const headers: Record<string, string> = {};
    for (let i = 0; i < e.headers.length; i += 2) headers[e.headers[i]] = e.headers[i + 1];
    headers.age = String(e.age(this.now));
    return { label, status: e.status, body: e.body.toString(), headers };
  }
}

const ok = (cacheControl: string | undefined, body = 'hello', extra: Record<string, string> = {}): OriginRes => ({
  status: 200,
  headers: { 'content-type': 'text/plain', ...(cacheControl !== undefined ? { 'cache-control': cacheControl } : {}), ...extra },
  body: [body],
});

describe('cache engine: freshness', () => {
  it('max-age: stored, answered as a HIT with Age until it expires, then fetched again', async () => {
    let n = 0;
    const b = new Bench(() => ok('max-age=60', `v${++n}`));
    expect((await b.get('/a')).label).to.equal('MISS');
    b.advance(10);
    const hit = await b.get('/a');
    expect([hit.label, hit.body, hit.headers.age]).to.deep.equal(['HIT', 'v1', '10']);
    b.advance(49);
    expect((await b.get('/a')).label).to.equal('HIT');
    b.advance(2);
    const again = await b.get('/a');
    expect([again.label, again.body]).to.deep.equal(['MISS', 'v2']);
    expect(b.calls.length).to.equal(2);
    expect(b.stats()).to.include({ hits: 2, misses: 2, stores: 2, entries: 1 });
  });

  it('s-maxage wins over max-age for a shared cache; Expires counts when neither is there', async () => {
    const b = new Bench((r) =>
      r.url === '/s'
        ? ok('max-age=100, s-maxage=10')
        : ok(undefined, 'e', { date: new Date(b.now).toUTCString(), expires: new Date(b.now + 30_000).toUTCString() }),
    );
    await b.get('/s');
    await b.get('/e');
    b.advance(11);
    expect((await b.get('/s')).label).to.equal('MISS');
    expect((await b.get('/e')).label).to.equal('HIT');
    b.advance(20);
    expect((await b.get('/e')).label).to.equal('MISS');
  });

  it('an Age from upstream shortens the freshness left', async () => {
    const b = new Bench(() => ok('max-age=60', 'x', { age: '50' }));
    await b.get('/a');
    b.advance(5);
    const hit = await b.get('/a');
    expect([hit.label, hit.headers.age]).to.deep.equal(['HIT', '55']);
    b.advance(6);
    expect((await b.get('/a')).label).to.equal('MISS');
  });

  it('a response without explicit freshness is not stored (no heuristic), nor marked for coalescing', async () => {
    const b = new Bench(() => ok(undefined, 'x', { 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' }));
    await b.get('/a');
    expect((await b.get('/a')).label).to.equal('MISS');
    expect(b.calls.length).to.equal(2);
    expect(b.stats().entries).to.equal(0);
    // Marked "pass": concurrent requests for it now go to the origin in parallel, not one by one.
    const results = await Promise.all([b.get('/a'), b.get('/a'), b.get('/a')]);
    expect(results.map((r) => r.label)).to.deep.equal(['MISS', 'MISS', 'MISS']);
    expect(b.stats().coalescedWaits).to.equal(0);
  });
});

describe('cache engine: what is never stored or served', () => {
  for (const cc of ['private, max-age=60', 'no-store', 'max-age=60, no-store']) {
    it(`Cache-Control: ${cc}`, async () => {
      const b = new Bench(() => ok(cc));
      await b.get('/a');
      expect((await b.get('/a')).label).to.equal('MISS');
      expect(b.stats().entries).to.equal(0);
    });
  }

  it('Set-Cookie responses are not stored, even public ones', async () => {
    const b = new Bench(() => ok('public, max-age=60', 'x', { 'set-cookie': 'a=1' }));
    await b.get('/a');
    expect((await b.get('/a')).label).to.equal('MISS');
    expect(b.stats().entries).to.equal(0);
  });

  it('Vary: * is not stored', async () => {
    const b = new Bench(() => ok('max-age=60', 'x', { vary: '*' }));
    await b.get('/a');
    expect((await b.get('/a')).label).to.equal('MISS');
  });

  it('no-cache is stored but revalidated on every request (conditional, 304 answered from the entry)', async () => {
    const b = new Bench((r) =>
      r.headers['if-none-match'] === '"v1"' ? { status: 304, headers: { etag: '"v1"' } } : ok('no-cache', 'body', { etag: '"v1"' }),
    );
    expect((await b.get('/a')).label).to.equal('MISS');
    const second = await b.get('/a');
    expect([second.label, second.body]).to.deep.equal(['MISS', 'body']);
    expect(b.calls[1].headers['if-none-match']).to.equal('"v1"');
    expect(b.stats()).to.include({ revalidations: 1, entries: 1 });
  });

  it('responses to Authorization requests: always fetched; stored only if public/s-maxage/must-revalidate', async () => {
    const b = new Bench((r) => (r.url === '/pub' ? ok('public, max-age=60', 'shared') : ok('max-age=60', 'mine')));
    const auth = { authorization: 'Bearer t' };
    expect((await b.get('/mine', auth)).label).to.equal('MISS');
    expect((await b.get('/mine')).label).to.equal('MISS'); // not stored from the authorized request
    expect((await b.get('/pub', auth)).label).to.equal('MISS');
    expect((await b.get('/pub', auth)).label).to.equal('MISS'); // never answered from the cache
    const anon = await b.get('/pub');
    expect([anon.label, anon.body]).to.deep.equal(['HIT', 'shared']); // public: stored, shared
  });

  it('requests with Cookie bypass the cache unless cookies: ignore', async () => {
    const b = new Bench(() => ok('max-age=60'));
    expect((await b.get('/a', { cookie: 's=1' })).label).to.equal('PASS');
    expect(b.stats().entries).to.equal(0);
    await b.get('/a');
    expect((await b.get('/a', { cookie: 's=1' })).label).to.equal('PASS');
    const ig = new Bench(() => ok('max-age=60'), { cookies: 'ignore' });
    await ig.get('/a', { cookie: 's=1' });
    expect((await ig.get('/a', { cookie: 's=2' })).label).to.equal('HIT');
  });

  it('POST/PUT/DELETE/PATCH invalidate the URL; HEAD misses and Range misses bypass', async () => {
    const b = new Bench(() => ok('max-age=60'));
    await b.get('/a');
    expect((await b.get('/a', {}, 'head')).label).to.equal('HIT');
    expect((await b.get('/a', {}, 'post')).label).to.equal('PASS');
    expect(b.stats().entries).to.equal(0);
    expect((await b.get('/b', {}, 'head')).label).to.equal('PASS');
    expect((await b.get('/b', { range: 'bytes=0-1' })).label).to.equal('PASS');
    expect(b.stats().entries).to.equal(0);
  });
});

describe('cache engine: Vary', () => {
  it("keeps one entry per variant of the Vary'd request headers", async () => {
    const b = new Bench((r) => ok('max-age=60', `lang=${r.headers['accept-language']}`, { vary: 'Accept-Language' }));
    expect((await b.get('/a', { 'accept-language': 'en' })).body).to.equal('lang=en');
    expect((await b.get('/a', { 'accept-language': 'fr' })).body).to.equal('lang=fr');
    const en = await b.get('/a', { 'accept-language': 'en' });
    const fr = await b.get('/a', { 'accept-language': 'fr' });
    expect([en.label, en.body, fr.label, fr.body]).to.deep.equal(['HIT', 'lang=en', 'HIT', 'lang=fr']);
    expect((await b.get('/a')).label).to.equal('MISS'); // no Accept-Language: a third variant
    expect(b.stats().entries).to.equal(3);
  });

  it('Vary: Accept-Encoding on an identity body is one entry for every client (the cache compresses itself)', async () => {
    const b = new Bench(() => ok('max-age=60', 'x', { vary: 'Accept-Encoding' }));
    await b.get('/a', { 'accept-encoding': 'gzip' });
    expect((await b.get('/a', { 'accept-encoding': 'br' })).label).to.equal('HIT');
    expect((await b.get('/a')).label).to.equal('HIT');
    expect(b.stats().entries).to.equal(1);
  });

  it('Vary: Accept-Encoding on an encoded body: one entry per negotiated coding', async () => {
    const b = new Bench((r) =>
      ok('max-age=60', 'x', {
        vary: 'Accept-Encoding',
        'content-encoding': r.headers['accept-encoding']?.includes('gzip') ? 'gzip' : 'identity',
      }),
    );
    await b.get('/a', { 'accept-encoding': 'gzip' });
    expect((await b.get('/a', { 'accept-encoding': 'gzip, deflate' })).label).to.equal('HIT'); // same coding
    expect((await b.get('/a')).label).to.equal('MISS');
  });
});

describe('cache engine: coalescing', () => {
  it('50 concurrent requests for a missing key make 1 origin call', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new Bench(async () => {
      await gate;
      return ok('max-age=60', 'one');
    });
    const all = Array.from({ length: 50 }, () => b.get('/hot'));
    await new Promise((r) => setImmediate(r));
    expect(b.calls.length).to.equal(1);
    release();
    const results = await Promise.all(all);
    expect(b.calls.length).to.equal(1);
    expect(results.every((r) => r.body === 'one' && r.status === 200)).to.equal(true);
    expect(results.filter((r) => r.label === 'MISS').length).to.equal(1);
    expect(b.stats()).to.include({ coalescedWaits: 49, misses: 1, hits: 49 });
  });

  it('waiters of a fill that turns out uncacheable fetch themselves, in parallel', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new Bench(async () => {
      await gate;
      return ok('private');
    });
    const all = Array.from({ length: 5 }, () => b.get('/p'));
    await new Promise((r) => setImmediate(r));
    release();
    const results = await Promise.all(all);
    expect(b.calls.length).to.equal(5);
    expect(results.every((r) => r.label === 'MISS' && r.body === 'hello')).to.equal(true);
  });

  it('waiters of a fill that fails look up again: one fetches in its place, the others wait for it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const b = new Bench(async () => {
      if (++calls === 1) {
        await gate;
        throw new Error('the client went away');
      }
      return ok('max-age=60', 'second');
    });
    const all = Array.from({ length: 10 }, () => b.get('/gone'));
    await new Promise((r) => setImmediate(r));
    release();
    const results = await Promise.all(all);
    expect(calls).to.equal(2);
    expect(results[0].status).to.equal(502);
    expect(results.slice(1).every((r) => r.body === 'second')).to.equal(true);
    expect(results.filter((r) => r.label === 'MISS').length).to.equal(2);
    expect(b.stats()).to.include({ coalescedWaits: 9, misses: 2, hits: 8 });
  });

  it('waiters give up after lockTimeout when the fetch hangs', async () => {
    let calls = 0;
    const b = new Bench(() => (++calls === 1 ? new Promise<OriginRes>(() => {}) : ok('max-age=60', 'second')), { lockTimeoutMs: 100 });
    void b.get('/slow'); // never answers
    await new Promise((r) => setImmediate(r));
    const r = await b.get('/slow');
    expect([r.label, r.body]).to.deep.equal(['MISS', 'second']);
    expect(calls).to.equal(2);
  });
});

describe('cache engine: stale-while-revalidate and stale-if-error', () => {
  it('stale-while-revalidate: serves stale at once, one background refresh, then the new body', async () => {
    let n = 0;
    let release!: () => void;
    let gate = Promise.resolve();
    const b = new Bench(async () => {
      await gate;
      return ok('max-age=10, stale-while-revalidate=60', `v${++n}`);
    });
    await b.get('/a');
    b.advance(15);
    gate = new Promise<void>((r) => (release = r));
    const s1 = await b.get('/a');
    const s2 = await b.get('/a');
    expect([s1.label, s1.body, s2.label, s2.body]).to.deep.equal(['STALE', 'v1', 'STALE', 'v1']);
    expect(b.calls.length).to.equal(2); // one refresh for both
    release();
    await b.settle();
    const fresh = await b.get('/a');
    expect([fresh.label, fresh.body]).to.deep.equal(['HIT', 'v2']);
    expect(b.stats()).to.include({ refreshes: 1, staleServes: 2 });
  });

  it('past stale-while-revalidate the request waits for the fetch', async () => {
    let n = 0;
    const b = new Bench(() => ok('max-age=10, stale-while-revalidate=5', `v${++n}`));
    await b.get('/a');
    b.advance(16);
    const r = await b.get('/a');
    expect([r.label, r.body]).to.deep.equal(['MISS', 'v2']);
  });

  it('stale-if-error: a 5xx or a failed fetch is answered with the stale entry, within its window', async () => {
    let mode: 'ok' | '503' | 'throw' = 'ok';
    const b = new Bench(() => {
      if (mode === 'throw') throw new Error('down');
      return mode === '503' ? { status: 503, headers: {}, body: ['busy'] } : ok('max-age=10, stale-if-error=60', 'good');
    });
    await b.get('/a');
    b.advance(20);
    mode = '503';
    const s = await b.get('/a');
    expect([s.label, s.status, s.body]).to.deep.equal(['STALE', 200, 'good']);
    mode = 'throw';
    const t = await b.get('/a');
    expect([t.label, t.body]).to.deep.equal(['STALE', 'good']);
    b.advance(60);
    const gone = await b.get('/a');
    expect([gone.label, gone.status]).to.deep.equal(['MISS', 502]);
    mode = '503';
    expect((await b.get('/a')).status).to.equal(503);
  });

  it('must-revalidate forbids serving stale, even on error', async () => {
    let fail = false;
    const b = new Bench(() =>
      fail ? { status: 500, body: ['err'] } : ok('max-age=10, must-revalidate, stale-if-error=60, stale-while-revalidate=60', 'good'),
    );
    await b.get('/a');
    b.advance(20);
    fail = true;
    const r = await b.get('/a');
    expect([r.label, r.status]).to.deep.equal(['MISS', 500]);
  });
});

describe('cache engine: revalidation', () => {
  it('a stale entry with an ETag is refreshed by a conditional request; the 304 renews it and merges headers', async () => {
    const b = new Bench((r) =>
      r.headers['if-none-match'] === '"v1"'
        ? { status: 304, headers: { etag: '"v1"', 'cache-control': 'max-age=100', 'x-version': '2' } }
        : ok('max-age=10', 'body', { etag: '"v1"', 'x-version': '1' }),
    );
    await b.get('/a');
    b.advance(11);
    const r = await b.get('/a');
    expect(b.calls[1].headers['if-none-match']).to.equal('"v1"');
    expect([r.label, r.body, r.headers['x-version'], r.headers['cache-control']]).to.deep.equal(['MISS', 'body', '2', 'max-age=100']);
    b.advance(90);
    const hit = await b.get('/a');
    expect([hit.label, hit.body, hit.headers.age]).to.deep.equal(['HIT', 'body', '90']);
    expect(b.stats()).to.include({ revalidations: 1, entries: 1 });
  });

  it('Last-Modified gives If-Modified-Since; a 200 instead of 304 replaces the entry', async () => {
    const lm = 'Wed, 21 Oct 2015 07:28:00 GMT';
    let n = 0;
    const b = new Bench((r) => {
      n++;
      if (n === 2) expect(r.headers['if-modified-since']).to.equal(lm);
      return ok('max-age=10', `v${n}`, { 'last-modified': lm });
    });
    await b.get('/a');
    b.advance(11);
    expect((await b.get('/a')).body).to.equal('v2');
    expect((await b.get('/a')).label).to.equal('HIT');
    expect(b.stats().entries).to.equal(1);
  });

  it("the client's own conditionals are not forwarded on a fill; head() says whether it may get a 304", async () => {
    const b = new Bench(() => ok('max-age=60', 'x', { etag: '"e"' }));
    const r = b.cache.lookup('get', 'h', '/c', new HeaderSnapshot(['if-none-match', '"e"']));
    expect(r.kind).to.equal('fetch');
    const f = (r as { filler: Filler }).filler;
    expect(f.applyTo(['if-none-match', '"e"', 'accept', '*/*', 'range', 'bytes=0-1'])).to.deep.equal(['accept', '*/*']);
    const d = f.head(200, ['cache-control', 'max-age=60', 'etag', '"e"']);
    expect(d).to.deep.equal({ kind: 'stream', store: true, notModified: true });
    f.body(Buffer.from('x'));
    f.end();
    expect(b.stats().entries).to.equal(1);
  });
});

describe('cache engine: purge, bounds, size limits', () => {
  it('purge by exact URL, by prefix, per host, and clear', async () => {
    const b = new Bench((r) => ok('max-age=600', r.url));
    for (const u of ['/a', '/a?x=1', '/a/b', '/a/c', '/z']) await b.get(u);
    await b.get('/a', {}, 'get', 'other.test');
    expect(b.stats().entries).to.equal(6);
    expect(b.cache.purge('/a', 'example.test')).to.equal(1);
    expect((await b.get('/a?x=1')).label).to.equal('HIT');
    expect((await b.get('/a', {}, 'get', 'other.test')).label).to.equal('HIT');
    expect(b.cache.purgePrefix('/a/')).to.equal(2);
    expect((await b.get('/a/b')).label).to.equal('MISS');
    expect((await b.get('/z')).label).to.equal('HIT');
    expect(b.cache.purge('/a')).to.equal(1); // every host: other.test's
    expect(b.cache.clear()).to.equal(3); // /a?x=1, /a/b (fetched again above), /z
    expect(b.stats()).to.include({ entries: 0, bytes: 0 });
  });

  it('a fill in flight when its URL is purged stores nothing', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new Bench(async () => {
      await gate;
      return ok('max-age=60', 'old');
    });
    const p = b.get('/a');
    await new Promise((r) => setImmediate(r));
    b.cache.purge('/a');
    release();
    expect((await p).body).to.equal('old');
    expect(b.stats().entries).to.equal(0);
  });

  it('stays under maxSize, evicting the least recently used', async () => {
    const big = 'x'.repeat(3000);
    const b = new Bench(() => ok('max-age=600', big), { maxSize: 14_000, maxObjectSize: 5000 }); // three entries fit (about 4.3 KB each, bookkeeping counted)
    await b.get('/1');
    await b.get('/2');
    await b.get('/3');
    expect((await b.get('/1')).label).to.equal('HIT'); // /2 is now the least recently used
    await b.get('/4');
    expect(b.stats().bytes).to.be.at.most(14_000);
    expect(b.stats().evictions).to.equal(1);
    expect((await b.get('/2')).label).to.equal('MISS');
    expect((await b.get('/1')).label).to.equal('HIT');
  });

  it('a streamed body over maxObjectSize passes through uncached (the filler abandons it)', async () => {
    const chunk = 'y'.repeat(600);
    const b = new Bench(() => ({ status: 200, headers: { 'cache-control': 'max-age=60' }, body: [chunk, chunk, chunk] }), {
      maxObjectSize: 1000,
    });
    const r = await b.get('/big');
    expect([r.label, r.body.length]).to.deep.equal(['MISS', 1800]); // the client got it all
    expect(b.stats()).to.include({ entries: 0, abandoned: 1 });
    expect((await b.get('/big')).label).to.equal('MISS');
    // With a Content-Length over the limit it is not even started.
    const cl = new Bench(
      () => ({ status: 200, headers: { 'cache-control': 'max-age=60', 'content-length': '1800' }, body: [chunk, chunk, chunk] }),
      { maxObjectSize: 1000 },
    );
    await cl.get('/big');
    expect(cl.stats()).to.include({ entries: 0, abandoned: 0 });
  });

  it('a body shorter than its Content-Length is not stored', async () => {
    const b = new Bench(() => ({ status: 200, headers: { 'cache-control': 'max-age=60', 'content-length': '10' }, body: ['short'] }));
    await b.get('/a');
    expect(b.stats().entries).to.equal(0);
  });
});

describe('cache engine: compressed forms', () => {
  it('makes br/gzip of a compressible entry on first demand, keeps them beside identity, counts their bytes', async () => {
    const text = 'compressible text, '.repeat(200);
    const b = new Bench(() => ok('max-age=60', text, { 'content-type': 'text/html' }));
    await b.get('/a');
    const r = b.cache.lookup('get', 'example.test', '/a', new HeaderSnapshot([]));
    if (r.kind !== 'hit') throw new Error(r.kind);
    const e = r.entry;
    const before = b.stats().bytes;
    expect(e.candidate).to.equal(true);
    expect(e.pick('br')).to.equal(0); // not made yet: identity now, br from the next hit on
    const deadline = Date.now() + 10_000;
    while (e.coded[2] === null && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    expect(e.pick('br')).to.equal(2);
    expect(e.pick('gzip, br')).to.equal(2);
    expect(e.pick('gzip')).to.equal(0);
    expect(b.stats().bytes).to.equal(before + e.coded[2]!.length);
    expect(e.etagOf(2)).to.equal('');
  });

  it('a hit waits for the compressed form it wants while it is made (once, for every waiting hit)', async () => {
    const text = 'compressible text, '.repeat(200);
    const b = new Bench(() => ok('max-age=60', text, { 'content-type': 'text/html' }));
    await b.get('/w', { 'accept-encoding': 'gzip' }); // the fill starts the gzip form
    const waits = ['gzip', 'gzip', 'br'].map((ae) =>
      b.cache.lookup('get', 'example.test', '/w', new HeaderSnapshot(['accept-encoding', ae])),
    );
    expect(waits.map((r) => r.kind)).to.deep.equal(['wait', 'wait', 'wait']);
    const done = await Promise.all(waits.map((r) => (r.kind === 'wait' ? r.promise : r)));
    expect(done.map((r) => r.kind)).to.deep.equal(['hit', 'hit', 'hit']);
    const e = (done[0] as { entry: import('../native-front/cache/index.js').CachedEntry }).entry;
    expect([e.pick('gzip'), e.pick('br'), e.pick('')]).to.deep.equal([1, 2, 0]);
    // Both forms made: hits go straight through.
    expect(b.cache.lookup('get', 'example.test', '/w', new HeaderSnapshot(['accept-encoding', 'br'])).kind).to.equal('hit');
    expect(b.stats()).to.include({ hits: 4, coalescedWaits: 0 });
  });

  it('does not compress small, binary or already encoded responses', async () => {
    const b = new Bench((r) =>
      r.url === '/small'
        ? ok('max-age=60', 'tiny', { 'content-type': 'text/html' })
        : r.url === '/png'
          ? ok('max-age=60', 'x'.repeat(5000), { 'content-type': 'image/png' })
          : r.url === '/nt'
            ? ok('max-age=60, no-transform', 'x'.repeat(5000), { 'content-type': 'text/html' })
            : ok('max-age=60', 'x'.repeat(5000), { 'content-type': 'text/html', 'content-encoding': 'gzip' }),
    );
    for (const u of ['/small', '/png', '/nt', '/enc']) {
      await b.get(u);
      const r = b.cache.lookup('get', 'example.test', u, new HeaderSnapshot([]));
      if (r.kind !== 'hit') throw new Error(`${u}: ${r.kind}`);
      expect(r.entry.candidate, u).to.equal(false);
      expect(r.entry.pick('br'), u).to.equal(0);
    }
  });
});
