// Properties of Range / If-Range / conditional handling for static files (pure functions).
import { expect } from 'chai';
import fc from 'fast-check';
import { noneMatch, notModifiedSince } from '../native-front/static/conditional.js';
import { chooseCoding } from '../native-front/static/encoding.js';
import { decideRange, ifRangeAllows } from '../native-front/static/ranges.js';

/**
 * Reference answer, straight from RFC 9110 §14.1.1/§14.1.2: null when the header is not a
 * syntactically valid bytes range set (ignored), else whether any range-spec is satisfiable.
 */
function oracle(size: number, header: string): { valid: boolean; satisfiable: boolean } {
  const m = /^bytes=(.*)$/.exec(header);
  if (!m) return { valid: false, satisfiable: false };
  let satisfiable = false;
  for (const spec of m[1].split(',')) {
    const s = spec.trim();
    const r = /^(\d*)-(\d*)$/.exec(s);
    if (!r || (r[1] === '' && r[2] === '')) return { valid: false, satisfiable: false };
    if (r[1] !== '') {
      if (Number(r[1]) < size && (r[2] === '' || Number(r[2]) >= Number(r[1]))) satisfiable = true;
    } else if (Number(r[2]) > 0 && size > 0) {
      satisfiable = true;
    }
  }
  return { valid: true, satisfiable };
}

const num = fc.oneof(fc.nat({ max: 2000 }), fc.constant(0), fc.nat());
const spec = fc.oneof(
  fc.tuple(num, num).map(([a, b]) => `${a}-${b}`),
  num.map((a) => `${a}-`),
  num.map((b) => `-${b}`),
  fc.constantFrom('-', '', 'x-1', '1-x', ' 1 - 2 ', '--1', '1--'),
);
const header = fc.oneof(
  fc.array(spec, { minLength: 1, maxLength: 4 }).map((xs) => `bytes=${xs.join(',')}`),
  fc.array(spec, { minLength: 1, maxLength: 2 }).map((xs) => `items=${xs.join(',')}`),
  fc.string({ maxLength: 20 }),
);
const size = fc.oneof(fc.nat({ max: 3000 }), fc.constant(0), fc.constant(1), fc.nat({ max: 2 ** 40 }));

describe('static: ranges', () => {
  it('property: a 206 range lies inside the file', () => {
    fc.assert(
      fc.property(size, header, (n, h) => {
        const d = decideRange(n, h);
        if (d.kind === 'partial') {
          expect(d.start).to.be.at.least(0);
          expect(d.end).to.be.at.least(d.start);
          expect(d.end).to.be.below(n);
          expect(Number.isInteger(d.start) && Number.isInteger(d.end)).to.equal(true);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('property: 416 only when the header is a valid bytes range and nothing is satisfiable', () => {
    fc.assert(
      fc.property(size, header, (n, h) => {
        const d = decideRange(n, h);
        const o = oracle(n, h);
        if (d.kind === 'unsatisfiable') {
          // range-parser also treats a reversed range ("5-3") as unsatisfiable rather than
          // invalid; either way no byte of the file was asked for.
          expect(o.satisfiable, h).to.equal(false);
        }
        if (o.valid && o.satisfiable) expect(d.kind, `${n} ${h}`).to.not.equal('unsatisfiable');
      }),
      { numRuns: 5000 },
    );
  });

  it('property: a single satisfiable range gets exactly the RFC bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.nat({ max: 12_000 }), fc.nat({ max: 12_000 }), (n, a, len) => {
        const d = decideRange(n, `bytes=${a}-${a + len}`);
        if (a >= n) expect(d.kind).to.equal('unsatisfiable');
        else expect(d).to.deep.equal({ kind: 'partial', start: a, end: Math.min(a + len, n - 1) });
        const s = decideRange(n, `bytes=-${len}`);
        if (len === 0) expect(s.kind).to.equal('unsatisfiable');
        else expect(s).to.deep.equal({ kind: 'partial', start: Math.max(0, n - len), end: n - 1 });
      }),
    );
  });

  it('examples: suffix, open, multi, malformed, other units', () => {
    expect(decideRange(1000, 'bytes=-500')).to.deep.equal({ kind: 'partial', start: 500, end: 999 });
    expect(decideRange(1000, 'bytes=500-')).to.deep.equal({ kind: 'partial', start: 500, end: 999 });
    expect(decideRange(100, 'bytes=-500')).to.deep.equal({ kind: 'partial', start: 0, end: 99 });
    expect(decideRange(1000, 'bytes=1000-')).to.deep.equal({ kind: 'unsatisfiable' });
    expect(decideRange(1000, 'bytes=0-1,5-6')).to.deep.equal({ kind: 'full' }); // multi-range: whole file
    expect(decideRange(1000, 'bytes=0-5,6-9')).to.deep.equal({ kind: 'partial', start: 0, end: 9 }); // merged
    expect(decideRange(1000, 'bytes=abc')).to.deep.equal({ kind: 'full' });
    expect(decideRange(1000, 'garbage')).to.deep.equal({ kind: 'full' });
    expect(decideRange(1000, 'items=0-5')).to.deep.equal({ kind: 'full' });
  });

  it('If-Range: strong ETag equality or the exact Last-Modified date', () => {
    const etag = '"abc-10"';
    const lm = 'Wed, 25 Nov 2026 10:00:00 GMT';
    expect(ifRangeAllows('"abc-10"', etag, lm)).to.equal(true);
    expect(ifRangeAllows('W/"abc-10"', etag, lm)).to.equal(false);
    expect(ifRangeAllows('"other"', etag, lm)).to.equal(false);
    expect(ifRangeAllows(lm, etag, lm)).to.equal(true);
    expect(ifRangeAllows('Wed, 25 Nov 2026 09:59:59 GMT', etag, lm)).to.equal(false);
    expect(ifRangeAllows('not a date', etag, lm)).to.equal(false);
  });

  it('If-None-Match: weak comparison, lists and *', () => {
    expect(noneMatch('"a"', '"a"')).to.equal(true);
    expect(noneMatch('W/"a"', '"a"')).to.equal(true);
    expect(noneMatch('"x", W/"a" ,"y"', '"a"')).to.equal(true);
    expect(noneMatch('*', '"a"')).to.equal(true);
    expect(noneMatch('"b", "c"', '"a"')).to.equal(false);
    expect(noneMatch('"a-br"', '"a"')).to.equal(false);
  });

  it('If-Modified-Since compares at one-second resolution', () => {
    const mtime = Date.parse('Wed, 25 Nov 2026 10:00:00 GMT') + 700;
    const lm = new Date(mtime).toUTCString();
    expect(notModifiedSince(lm, lm, mtime)).to.equal(true);
    expect(notModifiedSince('Wed, 25 Nov 2026 10:00:01 GMT', lm, mtime)).to.equal(true);
    expect(notModifiedSince('Wed, 25 Nov 2026 09:59:59 GMT', lm, mtime)).to.equal(false);
    expect(notModifiedSince('garbage', lm, mtime)).to.equal(false);
  });

  it('Accept-Encoding: q-values, q=0 refusals, preference for br', () => {
    expect(chooseCoding('gzip, deflate, br', true, true)).to.equal('br');
    expect(chooseCoding('gzip, br;q=0.5', true, true)).to.equal('gzip');
    expect(chooseCoding('br;q=0, gzip', true, true)).to.equal('gzip');
    expect(chooseCoding('br;q=0, gzip;q=0', true, true)).to.equal(null);
    expect(chooseCoding('*', true, false)).to.equal('br');
    expect(chooseCoding('identity', true, true)).to.equal(null);
    expect(chooseCoding('', true, true)).to.equal(null);
    expect(chooseCoding('br', false, true)).to.equal(null);
    expect(chooseCoding('gzip;q=1, identity;q=0.5', false, true)).to.equal('gzip');
  });
});
