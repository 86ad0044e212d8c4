// Issue 18, items 2, 5 and 9: the response cache keyed on the scheme, holding no more memory than
// maxSize says (Vary'd values, keys and pass marks included) and purged whatever spelling of a
// host or path filled it. A real hostd, undici clients, the cache's figures read from /status.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { cacheHost, cachePath } from '../native-front/cache/keys.js';
import type { CacheStats } from '../native-front/cache/stats.js';
import { CACHE_APP, fetchFrom, q } from './fixtures/cache/client.js';
import { startHost, type TestHost } from './helpers/index.js';

const SCHEME_APP = fileURLToPath(new URL('./fixtures/contain/scheme-redirect.mjs', import.meta.url));

/** The response cache's counters of the mount at `url`, summed over the fronts, from /status. */
async function cacheOf(h: TestHost, url: string): Promise<CacheStats> {
  const s = await h.host.status();
  const m = s.hosts[0].mounts.find((x) => x.url === url) as { cache?: CacheStats } | undefined;
  expect(m?.cache, `cache counters of ${url}`).to.not.equal(undefined);
  return m!.cache!;
}

async function purge(h: TestHost, query: string): Promise<number> {
  const r = await fetchFrom(`http://127.0.0.1:${h.host.statusPort}/cache/purge?${query}`, {}, 'POST');
  expect(r.status, r.text).to.equal(200);
  return (JSON.parse(r.text) as { purged: number }).purged;
}

describe('contain: the response cache keys on the scheme (issue 18, item 2)', function () {
  this.timeout(60_000);
  let h: TestHost;
  before(async () => {
    h = await startHost(
      [{ serverName: ['*'], apps: [{ url: '/', module: SCHEME_APP, pool: { threads: 1 }, cache: { maxSize: '1mb' } }] }],
      {
        trustProxy: '127.0.0.1/32',
      },
    );
  });
  after(() => h?.close());

  it('a 301 to https cached for an http request is never served to https requests', async () => {
    const get = (proto: string) => fetchFrom(h.url('/account'), { 'x-forwarded-proto': proto });
    const first = await get('http');
    expect([first.status, first.headers.location, first.headers['x-cache']]).to.deep.equal([
      301,
      `https://127.0.0.1:${h.port}/account`,
      'MISS',
    ]);
    expect((await get('http')).headers['x-cache'], 'the redirect is cached').to.equal('HIT');
    const secure = await get('https');
    expect([secure.status, secure.headers['x-cache'], secure.text]).to.deep.equal([200, 'MISS', 'secure page, call 2\n']);
    const again = await get('https');
    expect([again.status, again.headers['x-cache']]).to.deep.equal([200, 'HIT']);
    expect((await get('http')).status, 'http clients still get their redirect').to.equal(301);
  });
});

describe('contain: purge finds every spelling of a host and path (issue 18, item 9)', function () {
  this.timeout(60_000);
  let h: TestHost;
  before(async () => {
    h = await startHost([{ serverName: ['*'], apps: [{ url: '/c', module: CACHE_APP, pool: { threads: 1 }, cache: { maxSize: '1mb' } }] }]);
  });
  after(() => h?.close());

  it('entries stored under Host a.test:8080, A.TEST., a.test and /c//echo all go with a purge of a.test /c/echo', async () => {
    const p = q('/echo', { cc: 'public, max-age=600' });
    const spellings: [string, string][] = [
      ['a.test', `/c${p}`],
      ['a.test:8080', `/c${p}`],
      ['A.TEST.', `/c${p}`],
      ['a.test', `/c/${p}`],
      ['a.test', `/c/./${p.slice(1)}`],
    ];
    // Paths as written (a URL parser would resolve "./"): the pool sends them unchanged.
    const pool = new Pool(h.url(''));
    const get = async ([host, path]: [string, string]) => {
      const r = await pool.request({ path, method: 'GET', headers: { host } });
      await r.body.dump();
      return { headers: r.headers as Record<string, string> };
    };
    // The front routes on the normalised path (http/path.ts, item 7): /c//echo and /c/./echo are
    // /c/echo by the time the cache sees them, so they find the entry the first spelling stored.
    // The Host spellings stay entries of their own (the app sees the Host as sent).
    const first = ['MISS', 'MISS', 'MISS', 'HIT', 'HIT'];
    for (const [i, s] of spellings.entries()) expect((await get(s)).headers['x-cache'], `first ${s.join(' ')}`).to.equal(first[i]);
    for (const s of spellings) expect((await get(s)).headers['x-cache'], `stored ${s.join(' ')}`).to.equal('HIT');
    const entries = first.filter((x) => x === 'MISS').length;
    expect(await purge(h, `url=${encodeURIComponent(`/c${p}`)}&host=a.test`)).to.equal(entries);
    for (const [i, s] of spellings.entries())
      expect((await get(s)).headers['x-cache'], `after the purge ${s.join(' ')}`).to.equal(first[i]);
    // A prefix purge is normalised the same way.
    expect(await purge(h, `prefix=${encodeURIComponent('/c//')}&host=A.test.`)).to.equal(entries);
    expect((await cacheOf(h, '/c')).entries).to.equal(0);
    await pool.close();
  });
});

describe('cache keys: the normalised host and path purges match on', () => {
  it('paths: repeated slashes merged, dot segments (also %2e) resolved, never above the root, the query untouched', () => {
    const cases: [string, string][] = [
      ['/c/echo', '/c/echo'],
      ['/c//echo', '/c/echo'],
      ['//c///echo/', '/c/echo/'],
      ['/c/./echo', '/c/echo'],
      ['/c/%2e/echo', '/c/echo'],
      ['/c/x/../echo', '/c/echo'],
      ['/c/x/%2E%2e/echo', '/c/echo'],
      ['/../../c', '/c'],
      ['/c/..', '/'],
      ['/c/.', '/c/'],
      ['/', '/'],
      ['/.well-known/x', '/.well-known/x'],
      ['/c/echo?next=//x/../y', '/c/echo?next=//x/../y'],
      ['/c//echo?a=1', '/c/echo?a=1'],
      ['/c/%41', '/c/%41'],
    ];
    for (const [raw, want] of cases) expect(cachePath(raw), raw).to.equal(want);
  });

  it('hosts: lowercase, no port, no trailing dot', () => {
    for (const raw of ['a.test', 'A.Test', 'a.test:8080', 'a.test.', 'A.TEST.:80']) expect(cacheHost(raw), raw).to.equal('a.test');
    expect(cacheHost('[::1]:8080')).to.equal('[::1]');
  });
});

describe('contain: everything the cache keeps counts against maxSize (issue 18, item 5)', function () {
  this.timeout(120_000);
  const MAX = 1 << 20;
  let h: TestHost;
  let pool: Pool;
  before(async () => {
    h = await startHost([{ serverName: ['*'], apps: [{ url: '/c', module: CACHE_APP, pool: { threads: 1 }, cache: { maxSize: MAX } }] }]);
    pool = new Pool(h.url(''), { connections: 8 });
  });
  after(async () => {
    await pool?.close();
    await h?.close();
  });

  /** Sends `n` requests, 8 at a time; `path(i)` and `headers(i)` say what each asks. */
  async function flood(n: number, path: (i: number) => string, headers: (i: number) => Record<string, string> = () => ({})) {
    let next = 0;
    const one = async () => {
      for (let i = next++; i < n; i = next++) {
        const r = await pool.request({ path: path(i), method: 'GET', headers: headers(i) });
        await r.body.dump();
        expect(r.statusCode).to.equal(200);
      }
    };
    await Promise.all(Array.from({ length: 8 }, one));
  }

  it("distinct 8 KB User-Agents on Vary'd URLs: the accounted size holds them and stays under maxSize; a purge frees it all", async () => {
    const rssBefore = process.memoryUsage().rss;
    const agent = (i: number) => `agent-${i}-`.padEnd(8192, 'x');
    let peak = 0;
    for (let round = 0; round < 6; round++) {
      await flood(
        250,
        (i) => q(`/c/ua${(round * 250 + i) % 40}`, { cc: 'public, max-age=600', vary: 'user-agent' }),
        (i) => ({ 'user-agent': agent(round * 250 + i) }),
      );
      const c = await cacheOf(h, '/c');
      peak = Math.max(peak, c.bytes);
      expect(c.bytes, `round ${round}: accounted bytes`).to.be.at.most(MAX);
      // Each entry keeps the 8 KB value it varies on: what is counted must say so.
      expect(c.bytes, `round ${round}: ${c.entries} entries counted as ${c.bytes} bytes`).to.be.at.least(c.entries * 8192);
      expect(c.evictions).to.be.greaterThan(0);
    }
    // 1,500 stores of > 8 KB each went through a 1 MiB cache: the process kept a bounded share.
    const grew = process.memoryUsage().rss - rssBefore;
    expect(grew, `RSS grew by ${grew} bytes`).to.be.below(96 * MAX);
    expect(await purge(h, 'prefix=/c/')).to.be.greaterThan(0);
    const after = await cacheOf(h, '/c');
    expect([after.entries, after.bytes]).to.deep.equal([0, 0]);
    expect(peak).to.be.greaterThan(MAX / 2);
  });

  it('"uncacheable URL" marks count too, are bounded within the budget, and a purge frees them', async () => {
    const long = 'q'.repeat(1000);
    await flood(600, (i) => q(`/c/nostore${i}`, { cc: 'no-store', pad: long }));
    const c = await cacheOf(h, '/c');
    expect(c.entries).to.equal(0);
    // 600 marks of > 1 KB each: counted, and held to an eighth of maxSize.
    expect(c.bytes).to.be.greaterThan(MAX / 16);
    expect(c.bytes).to.be.at.most(MAX / 8);
    await purge(h, 'prefix=/c/');
    expect((await cacheOf(h, '/c')).bytes).to.equal(0);
  });
});
