// What a cache hit costs on the front thread, and why the cache computes freshness at store time:
// http-cache-semantics per request (build its request object, satisfiesWithoutRevalidation,
// responseHeaders) against ResponseCache.lookup on a fresh entry (a Map lookup, Vary check and a
// clock comparison). writeHit's native writes are not included (that is the static hit path's
// cost); a recording stand-in for the uWS response measures its JavaScript side.
//
//   node --import tsx bench/cache-cost.ts
import CachePolicy from 'http-cache-semantics';
import type { HttpResponse } from 'uWebSockets.js';
import { HeaderSnapshot, ResponseCache, writeHit } from '../native-front/cache/index.js';

const reqHeaders: Record<string, string> = {
  host: 'example.com',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36',
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'accept-encoding': 'gzip, deflate, br',
  'accept-language': 'en-US,en;q=0.9',
};
const resHeaders: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'public, s-maxage=600, stale-while-revalidate=30',
  etag: '"abc123"',
  'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT',
  vary: 'Accept-Encoding',
  date: new Date().toUTCString(),
  'content-length': '1024',
  'x-powered-by': 'app',
};

function nsPer(label: string, fn: () => unknown, minMs = 500): void {
  for (let i = 0; i < 50_000; i++) fn();
  let n = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(minMs * 1e6);
  let now = t0;
  while (now < end) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    now = process.hrtime.bigint();
  }
  console.log(`  ${label.padEnd(64)} ${(Number(now - t0) / n).toFixed(0).padStart(6)} ns`);
}

const names = Object.keys(reqHeaders);
const req = { url: '/products?page=2', method: 'GET', headers: reqHeaders };
const policy = new CachePolicy(req, { status: 200, headers: resHeaders }, { shared: true });

console.log('http-cache-semantics, per request:');
nsPer('build the request object (5 headers)', () => {
  const h: Record<string, string> = {};
  for (const k of names) h[k] = reqHeaders[k];
  return { url: '/products?page=2', method: 'GET', headers: h };
});
nsPer('satisfiesWithoutRevalidation(req)', () => policy.satisfiesWithoutRevalidation(req));
nsPer('responseHeaders() (Age, Date, hop-by-hop removed)', () => policy.responseHeaders());
nsPer('all three: a hit checked the library way', () => {
  const h: Record<string, string> = {};
  for (const k of names) h[k] = reqHeaders[k];
  const r = { url: '/products?page=2', method: 'GET', headers: h };
  return policy.satisfiesWithoutRevalidation(r) && policy.responseHeaders();
});
console.log('http-cache-semantics, per store (the cache does these once per response):');
nsPer('new CachePolicy(req, res)', () => new CachePolicy(req, { status: 200, headers: resHeaders }, { shared: true }));
nsPer('storable() + maxAge() + age()', () => policy.storable() && policy.maxAge() - policy.age());

// ResponseCache: one stored entry, looked up as the front does.
const cache = new ResponseCache({ maxSize: 1 << 20 });
const snap = new HeaderSnapshot(Object.entries(reqHeaders).flat());
const f = cache.lookup('get', 'example.com', '/products?page=2', snap);
if (f.kind !== 'fetch') throw new Error(f.kind);
f.filler.head(200, Object.entries(resHeaders).flat());
f.filler.body(Buffer.alloc(1024, 'x'));
f.filler.end();
/** The lookup once the compressed form the request wants is made (a hit waits for it). */
async function settled(c: ResponseCache, url: string, r: HeaderSnapshot): Promise<string> {
  let l = c.lookup('get', 'example.com', url, r);
  while (l.kind === 'wait') l = await l.promise;
  return l.kind;
}
if ((await settled(cache, '/products?page=2', snap)) !== 'hit') throw new Error('entry not stored');
console.log('ResponseCache (freshness computed at store time):');
nsPer('lookup() of a fresh entry (Vary: Accept-Encoding dropped for identity)', () =>
  cache.lookup('get', 'example.com', '/products?page=2', snap),
);
const vcache = new ResponseCache({ maxSize: 1 << 20 });
const vf = vcache.lookup('get', 'example.com', '/v', snap);
if (vf.kind !== 'fetch') throw new Error(vf.kind);
vf.filler.head(200, Object.entries({ ...resHeaders, vary: 'Accept-Language' }).flat());
vf.filler.body(Buffer.alloc(1024, 'x'));
vf.filler.end();
if ((await settled(vcache, '/v', snap)) !== 'hit') throw new Error('Vary entry not stored');
nsPer('lookup() with Vary: Accept-Language', () => vcache.lookup('get', 'example.com', '/v', snap));

// writeHit's JavaScript side, against a stand-in that only counts calls.
let calls = 0;
const fake = {
  writeStatus() {
    calls++;
    return fake;
  },
  writeHeader() {
    calls++;
    return fake;
  },
  end() {
    calls++;
    return fake;
  },
  endWithoutBody() {
    calls++;
    return fake;
  },
} as unknown as HttpResponse;
const noAe = new HeaderSnapshot(['host', 'example.com']);
nsPer('lookup() + writeHit() JS side (identity, native writes stubbed)', () => {
  const r = cache.lookup('get', 'example.com', '/products?page=2', noAe);
  if (r.kind === 'hit') writeHit(fake, cache, r.entry, noAe, false, 'HIT');
});
calls = 0;
const one = cache.lookup('get', 'example.com', '/products?page=2', noAe);
if (one.kind === 'hit') writeHit(fake, cache, one.entry, noAe, false, 'HIT');
console.log(`  (uWS calls per hit: ${calls}: one header value holding Age, X-Cache and the stored headers, end)`);
