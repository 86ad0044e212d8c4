// Compression rules (pure functions) and the compressors themselves. Over real sockets through
// hostd: compress-apps.test.ts (app responses), compress-static.test.ts (static files).
import zlib from 'node:zlib';
import { expect } from 'chai';
import {
  addVaryAcceptEncoding,
  chooseEncoding,
  compressBody,
  DEFAULT_COMPRESSION,
  isCompressibleType,
  negotiateEncoding,
  StreamCompressor,
  weakEtag,
  type EncodingInput,
} from '../shared/compress/index.js';

const html = (over: Partial<EncodingInput> = {}): EncodingInput => ({
  acceptEncoding: 'gzip, br',
  contentType: 'text/html; charset=utf-8',
  size: 5000,
  ...over,
});

describe('compression: the rules', () => {
  it('br or gzip by q-values; identity when refused or not asked', () => {
    const cases: [string, string | null][] = [
      ['gzip, deflate, br', 'br'],
      ['gzip', 'gzip'],
      ['br;q=0.5, gzip', 'gzip'],
      ['br;q=1, gzip;q=1', 'br'],
      ['gzip;q=0, br;q=0', null],
      ['identity', null],
      ['', null],
      ['*', 'br'],
      ['*;q=0', null],
      ['br;q=0, *', 'gzip'],
      ['x-compress', null],
    ];
    for (const [ae, want] of cases) expect(chooseEncoding(html({ acceptEncoding: ae })), ae).to.equal(want);
  });

  it("only compressible types, per the database or the mount's list", () => {
    for (const t of [
      'text/html',
      'text/css; charset=utf-8',
      'application/json',
      'application/javascript',
      'image/svg+xml',
      'text/event-stream',
      'application/ld+json',
      'text/x-unknown',
    ]) {
      expect(isCompressibleType(t), t).to.equal(true);
    }
    for (const t of ['image/png', 'image/jpeg', 'video/mp4', 'application/octet-stream', 'application/zip', 'font/woff2', '']) {
      expect(isCompressibleType(t), t).to.equal(false);
    }
    const list = ['application/*', 'text/plain'];
    expect(isCompressibleType('application/octet-stream', list)).to.equal(true);
    expect(isCompressibleType('text/html', list)).to.equal(false);
    expect(isCompressibleType('Text/Plain; charset=x', list)).to.equal(true);
  });

  it('never: below minSize, already encoded, no-transform, ranges, bodiless statuses, disabled', () => {
    expect(negotiateEncoding(html({ size: 1023 }))).to.deep.include({ coding: null, vary: false });
    expect(negotiateEncoding(html({ size: 1024 })).coding).to.equal('br');
    expect(negotiateEncoding(html({ size: -1 })).coding).to.equal('br'); // a stream of unknown length
    expect(negotiateEncoding(html({ contentEncoding: 'gzip' }))).to.deep.include({ coding: null, vary: false });
    expect(negotiateEncoding(html({ contentEncoding: 'identity' })).coding).to.equal('br');
    expect(negotiateEncoding(html({ cacheControl: 'public, No-Transform' }))).to.deep.include({ coding: null, vary: false });
    expect(negotiateEncoding(html({ cacheControl: 'no-transformer' })).coding).to.equal('br');
    for (const status of [204, 206, 304, 101]) expect(negotiateEncoding(html({ status })).coding, String(status)).to.equal(null);
    expect(negotiateEncoding(html({ status: 404 })).coding).to.equal('br');
    expect(negotiateEncoding(html(), { ...DEFAULT_COMPRESSION, enabled: false })).to.deep.include({ coding: null, vary: false });
    // A range is answered from identity, but the response still varies by Accept-Encoding.
    expect(negotiateEncoding(html({ isRange: true }))).to.deep.include({ coding: null, vary: true });
    // Vary whenever the answer depends on Accept-Encoding, even for a client that asked for nothing.
    expect(negotiateEncoding(html({ acceptEncoding: '' }))).to.deep.include({ coding: null, vary: true });
  });

  it('Vary and ETag helpers', () => {
    expect(addVaryAcceptEncoding('')).to.equal('Accept-Encoding');
    expect(addVaryAcceptEncoding('Accept-Language')).to.equal('Accept-Language, Accept-Encoding');
    expect(addVaryAcceptEncoding('accept-encoding')).to.equal('accept-encoding');
    expect(addVaryAcceptEncoding('*')).to.equal('*');
    expect(weakEtag('"a"')).to.equal('W/"a"');
    expect(weakEtag('W/"a"')).to.equal('W/"a"');
    expect(weakEtag('')).to.equal('');
  });
});

describe('compression: compressors', () => {
  const text = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(2000));

  it('compressBody: gzip and br at the given levels, output that owns its memory', async () => {
    const gz = await compressBody(text, 'gzip', { gzip: 6, br: 5 });
    const br = await compressBody(text, 'br', { gzip: 6, br: 5 });
    expect(zlib.gunzipSync(gz).equals(text)).to.equal(true);
    expect(zlib.brotliDecompressSync(br).equals(text)).to.equal(true);
    expect(gz.length).to.be.below(text.length / 10);
    expect(br.buffer.byteLength).to.equal(br.length);
    const small = await compressBody(Buffer.from('tiny'), 'gzip', { gzip: 6, br: 5 });
    expect(small.buffer.byteLength).to.equal(small.length); // not a slice of the shared pool
  });

  for (const coding of ['gzip', 'br'] as const) {
    it(`StreamCompressor (${coding}): each push comes back flushed, decodable at once; end() completes the stream`, async () => {
      const c = new StreamCompressor(coding, { gzip: 6, br: 5 });
      const d = coding === 'gzip' ? zlib.createGunzip() : zlib.createBrotliDecompress();
      let got = '';
      d.on('data', (b: Buffer) => (got += b.toString()));
      let sent = '';
      for (let i = 0; i < 5; i++) {
        const ev = `data: event ${i}\n\n`;
        sent += ev;
        const out = await c.push(Buffer.from(ev));
        expect(out.length).to.be.above(0);
        d.write(out);
        // Everything pushed so far decodes from what came back so far.
        await new Promise<void>((res) => {
          const check = () => (got === sent ? res() : setImmediate(check));
          check();
        });
      }
      const [a, b] = await Promise.all([c.push(Buffer.from('one ')), c.push(Buffer.from('two'))]);
      d.write(a);
      d.write(b);
      const tail = await c.end();
      d.end(tail);
      await new Promise((res) => d.on('end', res));
      expect(got).to.equal(`${sent}one two`);
      await c.push(Buffer.from('late')).then(
        () => expect.fail('push after end'),
        (err: Error) => expect(err.message).to.match(/after end/),
      );
    });
  }
});
