// The response cache through a real hostd (createHost, its fronts, pools and status listener),
// clients are undici over real sockets. The app (fixtures/cache/app.mjs, one worker per mount so
// its call counters are the mount's) answers with whatever headers the query asks for, and tells
// how often it was called for a URL: each rule is checked by what the client got (X-Cache, Age,
// bodies naming the app call that made them) and by how many times the app was asked.
import { expect } from 'chai';
import { Pool, request } from 'undici';
import type { CacheStats as CacheCounters } from '../native-front/cache/stats.js';
import type { VhostConfig } from '../shared/config/types.js';
import { appCalls, CACHE_APP, fetchFrom, q } from './fixtures/cache/client.js';
import { parsePrometheus, startHost, type TestHost, waitFor } from './helpers/index.js';

const LAST_MODIFIED = 'Wed, 21 Oct 2015 07:28:00 GMT';

describe('response cache through hostd (socket)', function () {
  this.timeout(60_000);
  let h: TestHost;
  const site: VhostConfig = {
    serverName: ['*'],
    apps: [
      { url: '/c', module: CACHE_APP, pool: { threads: 1 }, cache: { maxSize: '4mb', maxObjectSize: '64k', lockTimeout: '30s' } },
      {
        url: '/t',
        module: CACHE_APP,
        pool: { threads: 1, requestTimeout: '1s' },
        cache: { maxSize: '1mb', header: 'X-Edge-Cache', cookies: 'ignore' },
      },
      { url: '/lru', module: CACHE_APP, pool: { threads: 1 }, cache: { maxSize: '64k', maxObjectSize: '16k', header: false } },
      { url: '/off', module: CACHE_APP, pool: { threads: 1 } },
    ],
  };
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetchFrom(h.url(path), headers, method);
  const calls = (mount: string, path: string) => appCalls(h.url(''), mount, path);
  const count = async (mount: string, path: string) => (await calls(mount, path)).count;
  const statsOf = async (mount: string): Promise<CacheCounters> => {
    const s = await h.host.status();
    const m = s.hosts[0].mounts.find((x) => x.url === mount) as { cache?: CacheCounters } | undefined;
    expect(m?.cache, `cache counters of ${mount} in /status`).to.not.equal(undefined);
    return m!.cache!;
  };
  const purge = async (query: string) => {
    const r = await fetchFrom(`http://127.0.0.1:${h.host.statusPort}/cache/purge?${query}`, {}, 'POST');
    expect(r.status, r.text).to.equal(200);
    return (JSON.parse(r.text) as { purged: number }).purged;
  };

  before(async () => {
    h = await startHost([site]);
  });
  after(() => h?.close());

  it('MISS, then HIT answered by the front: the same body and headers, Age, one app call', async () => {
    const p = q('/basic', { cc: 'public, max-age=60', etag: 'b1' });
    const miss = await get(`/c${p}`);
    expect([miss.status, miss.headers['x-cache'], miss.text]).to.deep.equal([200, 'MISS', `${p} call 1\n`]);
    const hit = await get(`/c${p}`);
    expect([hit.status, hit.headers['x-cache'], hit.text]).to.deep.equal([200, 'HIT', `${p} call 1\n`]);
    expect(hit.headers['cache-control']).to.equal('public, max-age=60');
    expect(hit.headers.etag).to.equal('"b1"');
    expect(hit.headers['content-type']).to.equal('text/plain; charset=utf-8');
    expect(hit.headers['content-length']).to.equal(String(hit.body.length));
    expect(hit.headers['x-request-id']).to.equal(undefined); // (the app's request header, not a response header)
    expect(Number(hit.headers.age)).to.be.within(0, 59);
    expect(await count('/c', p)).to.equal(1);
    // The same URL on a mount without `cache`: every request reaches the app, no X-Cache.
    const off = await get(`/off${p}`);
    expect([off.headers['x-cache'], (await get(`/off${p}`)).text]).to.deep.equal([undefined, `${p} call 2\n`]);
  });

  it('freshness: s-maxage wins over max-age, Expires, no heuristics, a stored Age counts', async () => {
    const twice = async (params: Record<string, string | number>) => {
      const p = q('/fresh', params);
      const a = await get(`/c${p}`);
      const b = await get(`/c${p}`);
      return { labels: [a.headers['x-cache'], b.headers['x-cache']], calls: await count('/c', p), b };
    };
    expect((await twice({ cc: 'max-age=0, s-maxage=60' })).labels).to.deep.equal(['MISS', 'HIT']);
    expect((await twice({ cc: 's-maxage=0, max-age=60' })).labels).to.deep.equal(['MISS', 'MISS']);
    expect((await twice({ expires: 60 })).labels).to.deep.equal(['MISS', 'HIT']);
    expect((await twice({ expires: -10 })).labels).to.deep.equal(['MISS', 'MISS']);
    const plain = await twice({ lm: LAST_MODIFIED }); // no freshness information: not cached (as nginx)
    expect([plain.labels, plain.calls]).to.deep.equal([['MISS', 'MISS'], 2]);
    // Stored 30 s old: hits say so, and count on from there.
    const aged = await twice({ cc: 'max-age=60', age1: 30 });
    expect(aged.labels).to.deep.equal(['MISS', 'HIT']);
    expect(Number(aged.b.headers.age)).to.be.within(30, 59);
    // Stored 60 s old with max-age=60 and a validator: kept, but stale at once (revalidated next).
    expect((await twice({ cc: 'max-age=60', age1: 60, etag: 'old' })).labels).to.deep.equal(['MISS', 'MISS']);
  });

  it('an entry expires as time passes: Age grows on hits, then the app is asked again', async () => {
    const p = q('/expire', { cc: 'max-age=2' });
    expect((await get(`/c${p}`)).headers['x-cache']).to.equal('MISS');
    // Hits (if any: a slow box may be past the 2 s already) carry call 1; the first miss call 2.
    const ages: number[] = [];
    const last = await waitFor(
      async () => {
        const r = await get(`/c${p}`);
        if (r.headers['x-cache'] === 'HIT') {
          expect(r.text).to.equal(`${p} call 1\n`);
          ages.push(Number(r.headers.age));
          return null;
        }
        return r;
      },
      { what: 'the entry to expire', interval: 100 },
    );
    expect([last.headers['x-cache'], last.text]).to.deep.equal(['MISS', `${p} call 2\n`]);
    expect(ages.every((a) => a >= 0 && a <= 2)).to.equal(true);
    expect(ages).to.deep.equal([...ages].sort());
    expect(await count('/c', p)).to.equal(2);
  });

  it('Vary: one entry per variant; Vary: * is never stored; Accept-Encoding does not split identity bodies', async () => {
    const p = q('/vary', { cc: 'max-age=60', vary: 'Accept-Language', echo: 'accept-language' });
    const en1 = await get(`/c${p}`, { 'accept-language': 'en' });
    const fr1 = await get(`/c${p}`, { 'accept-language': 'fr' });
    const en2 = await get(`/c${p}`, { 'accept-language': 'en' });
    const fr2 = await get(`/c${p}`, { 'accept-language': 'fr' });
    expect([en1, fr1, en2, fr2].map((r) => r.headers['x-cache'])).to.deep.equal(['MISS', 'MISS', 'HIT', 'HIT']);
    expect(en2.text).to.equal(`${p} call 1 accept-language=en\n`);
    expect(fr2.text).to.equal(`${p} call 2 accept-language=fr\n`);
    expect(en2.headers.vary).to.equal('Accept-Language');
    expect(await count('/c', p)).to.equal(2);

    const star = q('/vary-star', { cc: 'max-age=60', vary: '*' });
    await get(`/c${star}`);
    expect((await get(`/c${star}`)).headers['x-cache']).to.equal('MISS');

    // An identity body that varies only by Accept-Encoding: one entry serves every coding.
    const ae = q('/vary-ae', { cc: 'max-age=60', vary: 'Accept-Encoding', type: 'application/octet-stream' });
    expect((await get(`/c${ae}`, { 'accept-encoding': 'br' })).headers['x-cache']).to.equal('MISS');
    expect((await get(`/c${ae}`, { 'accept-encoding': 'gzip' })).headers['x-cache']).to.equal('HIT');
    expect((await get(`/c${ae}`)).headers['x-cache']).to.equal('HIT');
    expect(await count('/c', ae)).to.equal(1);
  });

  it('private, no-store and Set-Cookie answers are not stored; no-cache ones are revalidated every time', async () => {
    for (const params of [{ cc: 'private, max-age=60' }, { cc: 'no-store' }, { cc: 'public, max-age=60', setcookie: 1 }] as Record<
      string,
      string | number
    >[]) {
      const p = q('/nostore', params);
      const a = await get(`/c${p}`);
      const b = await get(`/c${p}`);
      expect([a.headers['x-cache'], b.headers['x-cache'], b.text], JSON.stringify(params)).to.deep.equal(['MISS', 'MISS', `${p} call 2\n`]);
    }
    const p = q('/nocache', { cc: 'no-cache', etag: 'nc' });
    expect((await get(`/c${p}`)).status).to.equal(200);
    const again = await get(`/c${p}`);
    expect([again.status, again.headers['x-cache'], again.text]).to.deep.equal([200, 'MISS', `${p} call 1\n`]);
    // The second call was a conditional request, answered 304 by the app: the body is the stored one.
    expect((await calls('/c', p)).inm).to.deep.equal([null, '"nc"']);
  });

  it('Authorization: never answered from the cache; its answer is stored only when public or s-maxage', async () => {
    const auth = { authorization: 'Bearer secret' };
    const plain = q('/auth', { cc: 'max-age=60' });
    expect((await get(`/c${plain}`, auth)).headers['x-cache']).to.equal('MISS');
    expect((await get(`/c${plain}`)).headers['x-cache']).to.equal('MISS'); // not stored from the authorized answer
    expect((await get(`/c${plain}`)).headers['x-cache']).to.equal('HIT');
    const again = await get(`/c${plain}`, auth); // a stored entry does not answer it either
    expect([again.headers['x-cache'], again.text]).to.deep.equal(['MISS', `${plain} call 3\n`]);

    for (const cc of ['public, max-age=60', 's-maxage=60']) {
      const p = q('/auth-shared', { cc });
      expect((await get(`/c${p}`, auth)).headers['x-cache']).to.equal('MISS');
      const anon = await get(`/c${p}`);
      expect([anon.headers['x-cache'], anon.text], cc).to.deep.equal(['HIT', `${p} call 1\n`]);
      expect((await get(`/c${p}`, auth)).headers['x-cache']).to.equal('MISS');
      expect(await count('/c', p)).to.equal(2);
    }
  });

  it('Cookie: requests with one neither use nor fill the cache; `cookies: ignore` caches them', async () => {
    const p = q('/cookie', { cc: 'max-age=60' });
    expect((await get(`/c${p}`, { cookie: 'a=1' })).headers['x-cache']).to.equal('MISS');
    expect((await get(`/c${p}`)).headers['x-cache']).to.equal('MISS'); // not filled by the cookie request
    expect((await get(`/c${p}`)).headers['x-cache']).to.equal('HIT');
    expect((await get(`/c${p}`, { cookie: 'a=1' })).headers['x-cache']).to.equal('MISS');
    expect(await count('/c', p)).to.equal(3);

    expect((await get(`/t${p}`, { cookie: 'a=1' })).headers['x-edge-cache']).to.equal('MISS');
    expect((await get(`/t${p}`, { cookie: 'b=2' })).headers['x-edge-cache']).to.equal('HIT');
    expect((await get(`/t${p}`)).headers['x-edge-cache']).to.equal('HIT');
    expect(await count('/t', p)).to.equal(1);
  });

  it('50 concurrent requests for a missing URL make one app call', async () => {
    const p = q('/herd', { cc: 'max-age=60', gate: 'herd' });
    const before = await statsOf('/c');
    const pool = new Pool(h.url('/'), { connections: 50 });
    try {
      const all = Array.from({ length: 50 }, () =>
        pool
          .request({ path: `/c${p}`, method: 'GET' })
          .then(async (r) => ({ status: r.statusCode, xcache: r.headers['x-cache'], text: await r.body.text() })),
      );
      // Every request has reached the front: one is at the app (held at its gate), 49 wait for it.
      await waitFor(async () => (await statsOf('/c')).coalescedWaits - before.coalescedWaits === 49 && (await count('/c', p)) === 1, {
        what: '49 coalesced waiters and one app call',
      });
      await get('/c/__release?gate=herd');
      const results = await Promise.all(all);
      expect(results.filter((r) => r.status === 200 && r.text === `${p} call 1\n`).length).to.equal(50);
      expect(results.filter((r) => r.xcache === 'MISS').length).to.equal(1);
      expect(results.filter((r) => r.xcache === 'HIT').length).to.equal(49);
      expect(await count('/c', p)).to.equal(1);
    } finally {
      await get('/c/__release?gate=herd'); // (a failure above must not leave the requests hanging)
      await pool.close();
    }
  });

  it('the client whose request fills the cache goes away: one waiter takes the fetch over, the rest still wait', async () => {
    const p = q('/herd-abort', { cc: 'max-age=60', gate: 'herd-abort' });
    const before = await statsOf('/c');
    const first = new AbortController();
    const filling = request(h.url(`/c${p}`), { signal: first.signal }).then(
      () => 'answered',
      () => 'aborted',
    );
    await waitFor(async () => (await count('/c', p)) === 1, { what: 'the first request at the app' });
    const pool = new Pool(h.url('/'), { connections: 20 });
    try {
      const rest = Array.from({ length: 20 }, () =>
        pool
          .request({ path: `/c${p}`, method: 'GET' })
          .then(async (r) => ({ status: r.statusCode, xcache: r.headers['x-cache'], text: await r.body.text() })),
      );
      await waitFor(async () => (await statsOf('/c')).coalescedWaits - before.coalescedWaits === 20, { what: '20 coalesced waiters' });
      first.abort();
      expect(await filling).to.equal('aborted');
      // One waiter's request goes to the app in its place; the other 19 wait for that one.
      await waitFor(async () => (await count('/c', p)) === 2, { what: 'the fetch taken over' });
      await get('/c/__release?gate=herd-abort');
      const results = await Promise.all(rest);
      expect(results.filter((r) => r.status === 200 && r.text === `${p} call 2\n`).length).to.equal(20);
      expect(results.filter((r) => r.xcache === 'MISS').length).to.equal(1);
      expect(await count('/c', p)).to.equal(2);
      expect((await statsOf('/c')).coalescedWaits - before.coalescedWaits).to.equal(20);
    } finally {
      await get('/c/__release?gate=herd-abort');
      await pool.close();
    }
  });

  it('stale-while-revalidate: stale answers at once while one background refresh runs, then the new body', async () => {
    // Stored 60 s old (stale at once, within the 600 s window); refreshes wait at a gate.
    const p = q('/swr', { cc: 'max-age=60, stale-while-revalidate=600', age1: 60, gate: 'swr', gateafter: 1 });
    expect((await get(`/c${p}`)).headers['x-cache']).to.equal('MISS');
    const before = await statsOf('/c');
    const stale = await Promise.all(Array.from({ length: 10 }, () => get(`/c${p}`)));
    for (const r of stale) expect([r.status, r.headers['x-cache'], r.text]).to.deep.equal([200, 'STALE', `${p} call 1\n`]);
    expect(Number(stale[0].headers.age)).to.be.at.least(60);
    await waitFor(async () => (await count('/c', p)) === 2, { what: 'the background refresh to reach the app' });
    expect((await get(`/c${p}`)).headers['x-cache']).to.equal('STALE'); // still refreshing: no second refresh
    await get('/c/__release?gate=swr');
    const fresh = await waitFor(
      async () => {
        const r = await get(`/c${p}`);
        return r.headers['x-cache'] === 'HIT' && r;
      },
      { what: 'the refreshed entry' },
    );
    expect(fresh.text).to.equal(`${p} call 2\n`);
    expect(await count('/c', p)).to.equal(2);
    const after = await statsOf('/c');
    expect(after.refreshes - before.refreshes).to.equal(1);
    expect(after.staleServes - before.staleServes).to.be.at.least(11);
  });

  it('stale-if-error: a 5xx or a thrown error of the app is answered with the stale entry', async () => {
    for (const fail of ['failafter', 'throwafter']) {
      const p = q('/sie', { cc: 'max-age=60, stale-if-error=600', age1: 60, [fail]: 1 });
      expect((await get(`/c${p}`)).headers['x-cache']).to.equal('MISS');
      const r = await get(`/c${p}`);
      expect([r.status, r.headers['x-cache'], r.text], fail).to.deep.equal([200, 'STALE', `${p} call 1\n`]);
      expect(await count('/c', p)).to.equal(2);
    }
    // Without stale-if-error (a validator keeps the stale entry), the app's 503 reaches the client.
    const p = q('/no-sie', { cc: 'max-age=60', age1: 60, etag: 'e', failafter: 1 });
    await get(`/c${p}`);
    const r = await get(`/c${p}`);
    expect([r.status, r.headers['x-cache'], r.text]).to.deep.equal([503, 'MISS', `${p.replace(/^.*$/, '')}call 2 fails\n`]);
  });

  it('stale-if-error: an app that times out is answered with the stale entry (requestTimeout 1s)', async () => {
    const p = q('/sie-timeout', { cc: 'max-age=60, stale-if-error=600', age1: 60, hangafter: 1 });
    expect((await get(`/t${p}`)).headers['x-edge-cache']).to.equal('MISS');
    const r = await get(`/t${p}`);
    expect([r.status, r.headers['x-edge-cache'], r.text]).to.deep.equal([200, 'STALE', `${p} call 1\n`]);
    expect(await count('/t', p)).to.equal(2);
    // Without the directive the client gets the timeout.
    const bare = q('/timeout', { cc: 'max-age=60', age1: 60, etag: 't', hangafter: 1 });
    await get(`/t${bare}`);
    expect((await get(`/t${bare}`)).status).to.equal(504);
  });

  it('304s: a stale entry is renewed by a conditional request to the app; clients with a matching validator get 304', async () => {
    const p = q('/reval', { cc: 'max-age=60', age1: 60, etag: 'r1' });
    expect((await get(`/c${p}`)).headers['x-cache']).to.equal('MISS');
    const renewed = await get(`/c${p}`);
    expect([renewed.status, renewed.headers['x-cache'], renewed.text]).to.deep.equal([200, 'MISS', `${p} call 1\n`]);
    expect((await calls('/c', p)).inm).to.deep.equal([null, '"r1"']); // the app answered 304 to the cache
    const hit = await get(`/c${p}`);
    expect([hit.headers['x-cache'], hit.text]).to.deep.equal(['HIT', `${p} call 1\n`]);
    expect(Number(hit.headers.age)).to.be.below(60); // renewed: the Age starts again
    // Last-Modified works as the validator too.
    const lm = q('/reval-lm', { cc: 'max-age=60', age1: 60, lm: LAST_MODIFIED });
    await get(`/c${lm}`);
    expect((await get(`/c${lm}`)).text).to.equal(`${lm} call 1\n`);
    expect((await get(`/c${lm}`)).headers['x-cache']).to.equal('HIT');
    expect(await count('/c', lm)).to.equal(2);

    // A client's If-None-Match on a hit: 304 from the cache.
    const c304 = await get(`/c${p}`, { 'if-none-match': '"r1"' });
    expect([c304.status, c304.headers['x-cache'], c304.headers.etag, c304.body.length]).to.deep.equal([304, 'HIT', '"r1"', 0]);
    const ims = await get(`/c${lm}`, { 'if-modified-since': LAST_MODIFIED });
    expect([ims.status, ims.headers['x-cache']]).to.deep.equal([304, 'HIT']);
    expect((await get(`/c${p}`, { 'if-none-match': '"other"' })).status).to.equal(200);
    // On a miss, the client's conditional is kept from the app (the cache wants the full body) and
    // the client still gets its 304.
    const m = q('/cond-miss', { cc: 'max-age=60', etag: 'm1' });
    const first = await get(`/c${m}`, { 'if-none-match': '"m1"' });
    expect([first.status, first.headers['x-cache'], first.headers.etag]).to.deep.equal([304, 'MISS', '"m1"']);
    expect((await calls('/c', m)).inm).to.deep.equal([null]);
    expect((await get(`/c${m}`)).text).to.equal(`${m} call 1\n`);
    expect(await count('/c', p)).to.equal(2);
  });

  it("unsafe methods drop the URL's entries", async () => {
    const p = q('/unsafe', { cc: 'max-age=60' });
    await get(`/c${p}`);
    expect((await get(`/c${p}`)).headers['x-cache']).to.equal('HIT');
    expect((await get(`/c${p}`, {}, 'POST')).status).to.equal(200);
    expect((await get(`/c${p}`)).headers['x-cache']).to.equal('MISS');
  });

  it('purge over the status listener: by URL (and host), by prefix', async () => {
    const paths = ['/p/a', '/p/b', q('/p/a', { v: 2 })].map((x) => q(x === '/p/a' || x === '/p/b' ? x : x, {}));
    const cached = (x: string) => `/c${x}${x.includes('?') ? '&' : '?'}cc=max-age%3D600`;
    for (const x of paths) await get(cached(x));
    for (const x of paths) expect((await get(cached(x))).headers['x-cache']).to.equal('HIT');
    expect(await purge(`url=${encodeURIComponent(cached(paths[0]))}&host=other.example`)).to.equal(0);
    expect(await purge(`url=${encodeURIComponent(cached(paths[0]))}&host=127.0.0.1:${h.port}`)).to.equal(1);
    expect((await get(cached(paths[0]))).headers['x-cache']).to.equal('MISS');
    expect((await get(cached(paths[2]))).headers['x-cache']).to.equal('HIT'); // another query: another URL
    expect(await purge(`prefix=${encodeURIComponent('/c/p/')}`)).to.equal(3);
    for (const x of paths) expect((await get(cached(x))).headers['x-cache']).to.equal('MISS');
    expect((await fetchFrom(`http://127.0.0.1:${h.host.statusPort}/cache/purge`, {}, 'POST')).status).to.equal(400);
  });

  it('a purge during a fetch: the answer fetched meanwhile is not kept', async () => {
    const p = q('/purge-race', { cc: 'max-age=600', gate: 'purge-race' });
    const pending = get(`/c${p}`);
    await waitFor(async () => (await count('/c', p)) === 1, { what: 'the fetch at the app' });
    expect(await purge(`url=${encodeURIComponent(`/c${p}`)}`)).to.equal(0); // nothing stored yet
    await get('/c/__release?gate=purge-race');
    expect((await pending).headers['x-cache']).to.equal('MISS');
    const next = await get(`/c${p}`);
    expect([next.headers['x-cache'], next.text]).to.deep.equal(['MISS', `${p} call 2\n`]);
    expect((await get(`/c${p}`)).headers['x-cache']).to.equal('HIT');
  });

  it('memory stays under maxSize: least recently used entries go first', async () => {
    const body = { cc: 'max-age=600', size: 10_000, type: 'application/octet-stream' };
    const e = (i: number) => `/lru${q(`/e${i}`, body)}`;
    for (let i = 0; i < 4; i++) await get(e(i));
    expect((await get(e(0))).text.startsWith('/e0')).to.equal(true); // e0 is now the most recent
    const before = await statsOf('/lru');
    for (let i = 4; i < 8; i++) await get(e(i));
    const s = await statsOf('/lru');
    expect(s.bytes).to.be.at.most(64 * 1024);
    expect(s.entries).to.be.below(8);
    expect(s.evictions - before.evictions).to.be.at.least(2);
    const calls0 = await count('/lru', q('/e0', body));
    await get(e(0));
    expect(await count('/lru', q('/e0', body))).to.equal(calls0); // kept: it was used recently
    await get(e(1));
    expect(await count('/lru', q('/e1', body))).to.equal(2); // the oldest untouched: evicted
  });

  it('a response over maxObjectSize reaches the client whole and is not stored (streamed or not)', async () => {
    for (const params of [{ stream: 8 }, {}] as { stream?: number }[]) {
      const p = q('/huge', { cc: 'max-age=600', size: 128 * 1024, type: 'application/octet-stream', ...params });
      const before = await statsOf('/c');
      const a = await get(`/c${p}`);
      expect([a.status, a.body.length, a.headers['x-cache']]).to.deep.equal([200, 128 * 1024, 'MISS']);
      expect(a.text.startsWith(`${p} call 1\n`)).to.equal(true);
      // A stream is given up as it goes over; a declared length over the limit is not even tried.
      expect((await statsOf('/c')).abandoned - before.abandoned).to.equal(params.stream ? 1 : 0);
      const b = await get(`/c${p}`);
      expect([b.body.length, b.headers['x-cache']]).to.deep.equal([128 * 1024, 'MISS']);
      const after = await statsOf('/c');
      expect(after.stores - before.stores).to.equal(0);
      expect(await count('/c', p)).to.equal(2);
    }
  });

  it('the X-Cache header: configurable name, or none', async () => {
    const p = q('/label', { cc: 'max-age=60' });
    const t1 = await get(`/t${p}`);
    const t2 = await get(`/t${p}`);
    expect([t1.headers['x-edge-cache'], t2.headers['x-edge-cache'], t2.headers['x-cache']]).to.deep.equal(['MISS', 'HIT', undefined]);
    const l1 = await get(`/lru${p}`);
    const l2 = await get(`/lru${p}`);
    expect([l1.headers['x-cache'], l2.headers['x-cache']]).to.deep.equal([undefined, undefined]);
    expect(l2.text).to.equal(`${p} call 1\n`); // cached all the same
    expect(Number(l2.headers.age)).to.be.at.least(0);
  });

  it('hits answer HEAD and single ranges from memory', async () => {
    const p = q('/range', { cc: 'max-age=60', type: 'application/octet-stream' });
    const full = await get(`/c${p}`);
    const head = await get(`/c${p}`, {}, 'HEAD');
    expect([head.status, head.headers['x-cache'], head.headers['content-length'], head.body.length]).to.deep.equal([
      200,
      'HIT',
      String(full.body.length),
      0,
    ]);
    const part = await get(`/c${p}`, { range: 'bytes=1-4' });
    expect([part.status, part.headers['x-cache'], part.text, part.headers['content-range']]).to.deep.equal([
      206,
      'HIT',
      full.text.slice(1, 5),
      `bytes 1-4/${full.body.length}`,
    ]);
    expect((await get(`/c${p}`, { range: 'bytes=9000-9999' })).status).to.equal(416);
    expect(await count('/c', p)).to.equal(1);
  });

  it('counters in /status and /metrics', async () => {
    const p = q('/counted', { cc: 'max-age=60' });
    const before = await statsOf('/t');
    await get(`/t${p}`);
    await get(`/t${p}`);
    await get(`/t${p}`);
    const s = await statsOf('/t');
    expect([s.misses - before.misses, s.hits - before.hits, s.stores - before.stores]).to.deep.equal([1, 2, 1]);
    expect(s.entries).to.be.at.least(1);
    expect(s.bytes).to.be.above(0);
    const r = await fetchFrom(`http://127.0.0.1:${h.host.statusPort}/metrics`);
    const { samples, types } = parsePrometheus(r.text);
    const metric = (name: string) => samples.find((x) => x.name === name && x.labels.mount === '/t')?.value;
    expect(types.hostd_cache_hits_total).to.equal('counter');
    expect(types.hostd_cache_bytes).to.equal('gauge');
    const now = await statsOf('/t');
    expect(metric('hostd_cache_hits_total')).to.equal(now.hits);
    expect(metric('hostd_cache_misses_total')).to.equal(now.misses);
    expect(metric('hostd_cache_stale_total')).to.equal(now.staleServes);
    expect(metric('hostd_cache_coalesced_total')).to.equal(now.coalescedWaits);
    expect(metric('hostd_cache_entries')).to.equal(now.entries);
    expect(metric('hostd_cache_bytes')).to.equal(now.bytes);
    expect(samples.some((x) => x.name === 'hostd_cache_hits_total' && x.labels.mount === '/off')).to.equal(false);
  });

  // Last: a reload starts new workers (the app's counters start again).
  it('a reload empties the cache', async () => {
    const p = q('/reload', { cc: 'max-age=600' });
    await get(`/c${p}`);
    expect((await get(`/c${p}`)).headers['x-cache']).to.equal('HIT');
    expect((await statsOf('/c')).entries).to.be.above(0);
    await h.host.reload();
    await h.host.ready();
    const s = await statsOf('/c');
    expect([s.entries, s.bytes]).to.deep.equal([0, 0]);
    const r = await get(`/c${p}`);
    expect([r.headers['x-cache'], r.text]).to.deep.equal(['MISS', `${p} call 1\n`]); // a new worker's first call
  });
});

describe('response cache with several fronts (socket)', function () {
  this.timeout(60_000);
  let h: TestHost;

  before(async () => {
    h = await startHost([{ serverName: ['*'], apps: [{ url: '/', module: CACHE_APP, pool: { threads: 1 }, cache: { maxSize: '1mb' } }] }], {
      fronts: 2,
    });
  });
  after(() => h?.close());

  it('each front keeps its own entries; /status sums them; a purge reaches every front', async () => {
    const p = q('/shared', { cc: 'max-age=600' });
    // New connections are spread over the fronts by the kernel: whichever answers, every front
    // stores the URL at most once.
    const labels: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await request(h.url(p), { reset: true });
      labels.push(String(r.headers['x-cache']));
      await r.body.dump();
    }
    const s = await h.host.status();
    const cache = (s.hosts[0].mounts[0] as { cache?: { entries: number; hits: number; misses: number } }).cache!;
    const misses = labels.filter((l) => l === 'MISS').length;
    expect(misses).to.be.within(1, 2);
    expect([cache.entries, cache.misses, cache.hits]).to.deep.equal([misses, misses, 12 - misses]);
    expect((await appCalls(h.url(''), '', p)).count).to.equal(misses);
    const purged = await fetchFrom(`http://127.0.0.1:${h.host.statusPort}/cache/purge?url=${encodeURIComponent(p)}`, {}, 'POST');
    expect(JSON.parse(purged.text)).to.deep.equal({ purged: misses });
    const after = await h.host.status();
    expect((after.hosts[0].mounts[0] as { cache?: { entries: number } }).cache!.entries).to.equal(0);
  });
});
