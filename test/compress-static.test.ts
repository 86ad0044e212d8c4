// Static files compressed on the fly by the front, over real sockets (undici, curl): negotiation
// by Accept-Encoding q-values, Vary, what is never compressed (small files, binary types, ranges,
// files streamed from disk), 304s per representation, and "compressed once per version".
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { request } from 'undici';
import { compressionCounters } from '../shared/compress/index.js';
import { startHost, type TestHost } from './helpers/host.js';

const run = promisify(execFile);

/** Text that compresses like real text does (words, not one repeated line). */
function text(bytes: number, seed = 1): Buffer {
  const words = [
    'static',
    'front',
    'cache',
    'brotli',
    'gzip',
    'request',
    'header',
    'vary',
    'encoding',
    'worker',
    'pool',
    'mount',
    'the',
    'a',
    'of',
    'and',
  ];
  let s = '';
  let x = seed;
  while (s.length < bytes) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += words[x % words.length] + (x % 11 === 0 ? '.\n' : ' ');
  }
  return Buffer.from(s.slice(0, bytes));
}

interface Got {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<Got> {
  const r = await request(url, { method, headers });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers as Record<string, string>, body };
}

function decode(r: Got): Buffer {
  const ce = r.headers['content-encoding'];
  if (ce === 'br') return brotliDecompressSync(r.body);
  if (ce === 'gzip') return gunzipSync(r.body);
  expect(ce).to.equal(undefined);
  return r.body;
}

describe('compression: static files (socket)', function () {
  this.timeout(30_000);
  let dir: string;
  let h: TestHost;
  const files: Record<string, Buffer> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostd-compress-'));
    Object.assign(files, {
      'page.html': text(20_000),
      'data.json': Buffer.from(JSON.stringify({ items: Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i}` })) })),
      'small.txt': text(600),
      'edge.txt': text(1024), // exactly minSize: compressed
      'under.txt': text(1023),
      'photo.png': text(20_000), // compressible bytes, but image/png is not a compressible type
      'once.css': text(30_000, 7),
      'change.txt': text(5000, 3),
      'sib.js': text(8000, 5),
      'big.txt': text(1536 * 1024, 9), // over the on-the-fly limit (1 MiB): served as it is
    });
    files['sib.js.gz'] = gzipSync(files['sib.js'], { level: 9 });
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
    h = await startHost([
      {
        serverName: ['*'],
        static: [
          { url: '/', dir },
          { url: '/off', dir, compression: false },
          { url: '/plain-only', dir, compression: { types: ['text/plain'] } },
          { url: '/min50k', dir, compression: { minSize: '50k' } },
          { url: '/levels', dir, compression: { level: { gzip: 1, br: 1 } } },
        ],
      },
    ]);
  });
  after(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('br and gzip by Accept-Encoding, with Vary, a weak ETag per coding and the right length', async () => {
    const br = await get(h.url('/page.html'), { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.status).to.equal(200);
    expect(br.headers['content-encoding']).to.equal('br');
    expect(br.headers.vary).to.equal('Accept-Encoding');
    expect(br.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(Number(br.headers['content-length'])).to.equal(br.body.length);
    expect(br.body.length).to.be.below(files['page.html'].length / 2);
    expect(decode(br).equals(files['page.html'])).to.equal(true);
    expect(br.headers.etag).to.match(/^W\/"[0-9a-f]+-[0-9a-f]+-br"$/);

    const gz = await get(h.url('/page.html'), { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).to.equal('gzip');
    expect(decode(gz).equals(files['page.html'])).to.equal(true);
    expect(gz.headers.etag).to.match(/-gz"$/);

    const id = await get(h.url('/page.html'));
    expect(id.headers['content-encoding']).to.equal(undefined);
    expect(id.headers.vary).to.equal('Accept-Encoding'); // the answer depends on it
    expect(id.body.equals(files['page.html'])).to.equal(true);
    expect(new Set([br.headers.etag, gz.headers.etag, id.headers.etag]).size).to.equal(3);

    const json = await get(h.url('/data.json'), { 'accept-encoding': 'br' });
    expect(json.headers['content-encoding']).to.equal('br');
    expect(decode(json).equals(files['data.json'])).to.equal(true);
  });

  it('honours q-values, q=0 refusals, "*" and identity', async () => {
    const cases: [string, string | undefined][] = [
      ['br;q=0.5, gzip;q=0.9', 'gzip'],
      ['gzip;q=0.4, br;q=0.8', 'br'],
      ['br;q=0, gzip', 'gzip'],
      ['gzip;q=0, br;q=0', undefined],
      ['gzip;q=0, br;q=0, identity;q=0', undefined], // nothing acceptable: identity, not 406
      ['identity', undefined],
      ['*', 'br'],
      ['br;q=0, *;q=0.1', 'gzip'],
      ['deflate', undefined],
      ['GZIP', 'gzip'],
    ];
    for (const [ae, want] of cases) {
      const r = await get(h.url('/page.html'), { 'accept-encoding': ae });
      expect(r.headers['content-encoding'], ae).to.equal(want);
      expect(r.headers.vary, ae).to.equal('Accept-Encoding');
      expect(decode(r).equals(files['page.html']), ae).to.equal(true);
    }
  });

  it('a real client (curl --compressed) gets the file', async () => {
    const { stdout } = await run('curl', ['-s', '--compressed', '-D', '-', h.url('/page.html')], {
      encoding: 'buffer',
      maxBuffer: 1 << 24,
    });
    const out = stdout as Buffer;
    const split = out.indexOf('\r\n\r\n');
    const head = out.subarray(0, split).toString('latin1');
    expect(head).to.match(/^content-encoding: (br|gzip)\r?$/im);
    expect(out.subarray(split + 4).equals(files['page.html'])).to.equal(true);
  });

  it('does not compress small files, non-compressible types, or files over 1 MiB; no Vary then', async () => {
    for (const [path, name] of [
      ['/small.txt', 'small.txt'],
      ['/under.txt', 'under.txt'],
      ['/photo.png', 'photo.png'],
      ['/big.txt', 'big.txt'],
    ]) {
      const r = await get(h.url(path), { 'accept-encoding': 'br, gzip' });
      expect(r.status, path).to.equal(200);
      expect(r.headers['content-encoding'], path).to.equal(undefined);
      expect(r.headers.vary, path).to.equal(undefined);
      expect(r.body.equals(files[name]), path).to.equal(true);
    }
    const edge = await get(h.url('/edge.txt'), { 'accept-encoding': 'gzip' });
    expect(edge.headers['content-encoding']).to.equal('gzip'); // minSize is inclusive
  });

  it('ranges come from the identity bytes, with Vary', async () => {
    const r = await get(h.url('/page.html'), { 'accept-encoding': 'br, gzip', range: 'bytes=100-199' });
    expect(r.status).to.equal(206);
    expect(r.headers['content-encoding']).to.equal(undefined);
    expect(r.headers['content-range']).to.equal(`bytes 100-199/${files['page.html'].length}`);
    expect(r.headers.vary).to.equal('Accept-Encoding');
    expect(r.body.equals(files['page.html'].subarray(100, 200))).to.equal(true);
    // A precompressed sibling is a file with its own strong ETag: ranges of it stay as they were.
    const sib = await get(h.url('/sib.js'), { 'accept-encoding': 'gzip', range: 'bytes=0-9' });
    expect(sib.status).to.equal(206);
    expect(sib.headers['content-encoding']).to.equal('gzip');
    expect(sib.body.equals(files['sib.js.gz'].subarray(0, 10))).to.equal(true);
  });

  it('a file with only a .gz sibling serves the sibling for gzip and a made br for br', async () => {
    const gz = await get(h.url('/sib.js'), { 'accept-encoding': 'gzip' });
    expect(gz.body.equals(files['sib.js.gz'])).to.equal(true);
    expect(gz.headers.etag).to.match(/^"/); // the file's strong tag
    const br = await get(h.url('/sib.js'), { 'accept-encoding': 'br' });
    expect(br.headers['content-encoding']).to.equal('br');
    expect(br.headers.etag).to.match(/^W\//);
    expect(decode(br).equals(files['sib.js'])).to.equal(true);
  });

  it("304 per representation: a coding's ETag revalidates that coding only", async () => {
    const br = await get(h.url('/page.html'), { 'accept-encoding': 'br' });
    const gz = await get(h.url('/page.html'), { 'accept-encoding': 'gzip' });
    const id = await get(h.url('/page.html'));
    const n1 = await get(h.url('/page.html'), { 'accept-encoding': 'br', 'if-none-match': br.headers.etag });
    expect(n1.status).to.equal(304);
    expect(n1.headers.etag).to.equal(br.headers.etag);
    expect(n1.headers.vary).to.equal('Accept-Encoding');
    expect(n1.body.length).to.equal(0);
    expect((await get(h.url('/page.html'), { 'accept-encoding': 'gzip', 'if-none-match': gz.headers.etag })).status).to.equal(304);
    expect((await get(h.url('/page.html'), { 'if-none-match': id.headers.etag })).status).to.equal(304);
    // Another coding's tag does not match: the client gets the representation it now asks for.
    const other = await get(h.url('/page.html'), { 'accept-encoding': 'gzip', 'if-none-match': br.headers.etag });
    expect(other.status).to.equal(200);
    expect(other.headers['content-encoding']).to.equal('gzip');
    const plain = await get(h.url('/page.html'), { 'if-none-match': gz.headers.etag });
    expect(plain.status).to.equal(200);
    expect(plain.headers['content-encoding']).to.equal(undefined);
  });

  it('HEAD gives the length of the chosen representation', async () => {
    const get1 = await get(h.url('/page.html'), { 'accept-encoding': 'br' });
    const head = await get(h.url('/page.html'), { 'accept-encoding': 'br' }, 'HEAD');
    expect(head.status).to.equal(200);
    expect(head.headers['content-encoding']).to.equal('br');
    expect(head.headers['content-length']).to.equal(String(get1.body.length));
    expect(head.body.length).to.equal(0);
  });

  it('compresses once per version: repeated hits cost no compression', async () => {
    const before = compressionCounters();
    const first = await get(h.url('/once.css'), { 'accept-encoding': 'br' });
    expect(first.headers['content-encoding']).to.equal('br');
    const afterFirst = compressionCounters();
    // The miss made both codings the file lacks.
    expect([afterFirst.br - before.br, afterFirst.gzip - before.gzip]).to.deep.equal([1, 1]);
    const gz = await get(h.url('/once.css'), { 'accept-encoding': 'gzip' });
    for (let i = 0; i < 10; i++) {
      const r = await get(h.url('/once.css'), { 'accept-encoding': i % 2 ? 'gzip' : 'br' });
      expect(r.body.equals(i % 2 ? gz.body : first.body)).to.equal(true); // the same bytes every time
    }
    const after = compressionCounters();
    expect([after.br - afterFirst.br, after.gzip - afterFirst.gzip]).to.deep.equal([0, 0]);
  });

  it('a changed file is compressed again, with a new ETag', async () => {
    const v1 = await get(h.url('/change.txt'), { 'accept-encoding': 'gzip' });
    expect(decode(v1).equals(files['change.txt'])).to.equal(true);
    const before = compressionCounters();
    const v2bytes = text(6000, 11);
    await writeFile(join(dir, 'change.txt'), v2bytes);
    // The cache notices within its revalidation interval (1 s): poll until the new bytes show.
    const deadline = Date.now() + 15_000;
    let r = v1;
    while (Date.now() < deadline) {
      r = await get(h.url('/change.txt'), { 'accept-encoding': 'gzip' });
      if (decode(r).equals(v2bytes)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(decode(r).equals(v2bytes)).to.equal(true);
    expect(r.headers['content-encoding']).to.equal('gzip');
    expect(r.headers.etag).to.not.equal(v1.headers.etag);
    const after = compressionCounters();
    expect(after.gzip - before.gzip).to.equal(1);
    expect(after.br - before.br).to.equal(1);
  });

  it('per-mount settings: off, a types list, minSize, levels', async () => {
    const off = await get(h.url('/off/page.html'), { 'accept-encoding': 'br, gzip' });
    expect(off.headers['content-encoding']).to.equal(undefined);
    expect(off.headers.vary).to.equal(undefined);
    expect(off.body.equals(files['page.html'])).to.equal(true);

    expect((await get(h.url('/plain-only/page.html'), { 'accept-encoding': 'gzip' })).headers['content-encoding']).to.equal(undefined);
    expect((await get(h.url('/plain-only/change.txt'), { 'accept-encoding': 'gzip' })).headers['content-encoding']).to.equal('gzip');
    expect((await get(h.url('/plain-only/photo.png'), { 'accept-encoding': 'gzip' })).headers['content-encoding']).to.equal(undefined);

    expect((await get(h.url('/min50k/page.html'), { 'accept-encoding': 'gzip' })).headers['content-encoding']).to.equal(undefined);

    // Levels change the bytes: gzip 1 is bigger than the default 6 on the same file.
    const l1 = await get(h.url('/levels/page.html'), { 'accept-encoding': 'gzip' });
    const l6 = await get(h.url('/page.html'), { 'accept-encoding': 'gzip' });
    expect(decode(l1).equals(files['page.html'])).to.equal(true);
    expect(l1.body.length).to.be.above(l6.body.length);
  });
});
