// The small value parsers and normalisers of shared/config on their own: durations and sizes as
// hostd prints them, listen addresses, server names and mount URLs. (Parsing durations, sizes and
// listen addresses from vhost text is in config.test.ts.)
import { expect } from 'chai';
import fc from 'fast-check';
import {
  formatDuration,
  formatListen,
  formatSize,
  normalizeMountUrl,
  normalizeServerName,
  parseDuration,
  parseListen,
  parseSize,
} from '../shared/config/index.js';

describe('config values: durations and sizes as printed', () => {
  it('formatDuration picks the largest whole unit', () => {
    const table: [number, string][] = [
      [0, '0'],
      [250, '250ms'],
      [1000, '1s'],
      [1500, '1.5s'],
      [1550, '1550ms'],
      [60_000, '60s'],
      [90_000, '90s'],
      [120_000, '2m'],
      [3_600_000, '1h'],
      [5_400_000, '90m'],
    ];
    for (const [ms, text] of table) expect(formatDuration(ms), String(ms)).to.equal(text);
  });

  it('property: parseDuration reads back whatever formatDuration prints', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 24 * 3_600_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).to.equal(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it('formatSize uses powers of 1024 with one decimal at most', () => {
    const table: [number, string][] = [
      [0, '0 B'],
      [10, '10 B'],
      [1024, '1 KiB'],
      [1536, '1.5 KiB'],
      [100 * 1024 * 1024, '100 MiB'],
      [1024 ** 3, '1 GiB'],
      [5 * 1024 ** 4, '5120 GiB'],
    ];
    for (const [n, text] of table) expect(formatSize(n), String(n)).to.equal(text);
  });

  it('property: parseSize reads back formatSize for whole counts of a unit (it rounds the rest for display)', () => {
    const unit = fc.constantFrom(1, 1024, 1024 ** 2, 1024 ** 3);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1023 }), unit, (k, u) => {
        expect(parseSize(formatSize(k * u))).to.equal(k * u);
      }),
    );
  });
});

describe('config values: listen addresses', () => {
  it('formatListen brackets IPv6 only', () => {
    expect(formatListen({ host: '0.0.0.0', port: 8080 })).to.equal('0.0.0.0:8080');
    expect(formatListen({ host: '::1', port: 443 })).to.equal('[::1]:443');
    expect(formatListen({ host: 'localhost', port: 0 })).to.equal('localhost:0');
  });

  it('property: parseListen reads back formatListen', () => {
    const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('localhost', 'app.internal', 'a-b.example.com'));
    fc.assert(
      fc.property(host, fc.integer({ min: 0, max: 65535 }), (h, port) => {
        const addr = parseListen(formatListen({ host: h, port }));
        expect(addr).to.not.equal(undefined);
        expect(addr!.port).to.equal(port);
        expect(parseListen(formatListen(addr!))).to.deep.equal(addr);
      }),
      { numRuns: 500 },
    );
  });
});

describe('config values: server names', () => {
  it('normalises what a Host header can carry', () => {
    const ok: [string, string][] = [
      ['Example.COM', 'example.com'],
      ['example.com.', 'example.com'],
      ['*', '*'],
      ['*.Example.com', '*.example.com'],
      ['127.0.0.1', '127.0.0.1'],
      ['[::1]', '[::1]'],
      ['under_score.example', 'under_score.example'],
    ];
    for (const [raw, name] of ok) expect(normalizeServerName(raw), raw).to.deep.equal({ name });
  });

  it('refuses schemes, paths, ports, inner wildcards, bare IPv6 and bad labels, saying why', () => {
    const bad: [string, RegExp][] = [
      ['', /must not be empty/],
      ['https://example.com', /no scheme or path/],
      ['example.com/x', /no scheme or path/],
      ['example.com:80', /has no port/],
      ['a.*.example', /wildcard is "\*" alone or a leading "\*\."/],
      ['::1', /in brackets/],
      ['[zz]', /not a valid IPv6 address/],
      ['bad name!', /letters, digits/],
      ['-lead.example', /letters, digits/],
      [`${'a'.repeat(64)}.example`, /letters, digits/],
    ];
    for (const [raw, why] of bad) {
      const r = normalizeServerName(raw);
      expect(r, raw).to.have.property('error').that.matches(why);
    }
  });
});

describe('config values: mount URLs', () => {
  it('normalises to a leading "/", no trailing "/", "" for the root, non-ASCII percent-encoded', () => {
    const ok: [string, string][] = [
      ['/', ''],
      ['/api', '/api'],
      ['/api/', '/api'],
      ['/a/b', '/a/b'],
      ['/café', '/caf%C3%A9'],
    ];
    for (const [raw, url] of ok) expect(normalizeMountUrl(raw), raw).to.deep.equal({ url });
  });

  it('refuses relative, query, control characters, "//" and dot segments', () => {
    const bad: [string, RegExp][] = [
      ['api', /must start with "\/"/],
      ['/a?b', /path only/],
      ['/a#b', /path only/],
      ['/a b', /spaces or control/],
      ['/a\tb', /spaces or control/],
      ['/a//b', /"\/\/"/],
      ['/a/../b', /"\." or "\.\." segments/],
      ['/./a', /"\." or "\.\." segments/],
    ];
    for (const [raw, why] of bad) {
      const r = normalizeMountUrl(raw);
      expect(r, raw).to.have.property('error').that.matches(why);
    }
  });
});
