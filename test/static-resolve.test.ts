// Properties of the pure URL-path -> file-path logic of static mounts.
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { isInside, resolveUrlPath } from '../native-front/static/resolve-path.js';

const ROOT = '/srv/site/public';
const opts = { dotfiles: false };

/** Path pieces attackers use, mixed into random strings. */
const hostile = fc.constantFrom(
  '/',
  '//',
  '..',
  '.',
  '%2e',
  '%2E',
  '%2e%2e',
  '.%2e',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '\\',
  '%00',
  '\0',
  '%252e',
  '%252f',
  '%c0%ae',
  '%c0%af',
  '%e0%80%ae',
  '%ff',
  '%',
  '%2',
  '%zz',
  '..%2f',
  '..\\',
  '%u002e',
  'etc',
  'passwd',
  '.git',
  'a',
  'é',
  '%C3%A9',
  '~',
  ':',
  '%20',
  '?',
  '#',
);
const attackPath = fc
  .array(fc.oneof(hostile, fc.string({ maxLength: 4 }), fc.string({ unit: 'binary', maxLength: 3 })), { maxLength: 12 })
  .map((xs) => xs.join(''));

/** Names that need no refusal: not starting with ".", no "/", "\" or NUL. */
const safeName = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
  .filter((s) => !s.startsWith('.') && !/[/\\\0]/.test(s) && wellFormed(s));

/** No lone surrogates (String.prototype.isWellFormed is ES2024, past this tsconfig's lib). */
function wellFormed(s: string): boolean {
  try {
    encodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}

function assertConfined(raw: string, dotfiles: boolean) {
  const r = resolveUrlPath(ROOT, raw, { dotfiles });
  if (!r.ok) {
    expect([400, 404]).to.include(r.status);
    return;
  }
  // Whatever the OS later does with the path (normalising "..", ".", "//"), it stays under root.
  const normalised = path.resolve(r.path);
  expect(isInside(ROOT, normalised), `${JSON.stringify(raw)} -> ${r.path}`).to.equal(true);
  expect(normalised).to.equal(r.path);
  expect(r.path.includes('\0')).to.equal(false);
  expect(r.path.includes('\\')).to.equal(false);
  if (!dotfiles) expect(r.rel.split('/').some((s) => s.startsWith('.'))).to.equal(false);
}

describe('static: resolveUrlPath', () => {
  it('property: any raw path resolves to a refusal or a path inside root', () => {
    fc.assert(
      fc.property(attackPath, fc.boolean(), (p, dotfiles) => {
        assertConfined('/' + p, dotfiles);
        assertConfined(p, dotfiles);
      }),
      { numRuns: 5000 },
    );
  });

  it('property: arbitrary strings (full unicode and binary) never escape', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.boolean(), (p, dotfiles) => assertConfined('/' + p, dotfiles)),
      { numRuns: 3000 },
    );
  });

  it('property: safe names round-trip through percent-encoding', () => {
    fc.assert(
      fc.property(fc.array(safeName, { minLength: 1, maxLength: 5 }), fc.boolean(), (segs, slash) => {
        const raw = '/' + segs.map(encodeURIComponent).join('/') + (slash ? '/' : '');
        const r = resolveUrlPath(ROOT, raw, opts);
        expect(r.ok, raw).to.equal(true);
        if (!r.ok) return;
        expect(r.rel).to.equal(segs.join('/'));
        expect(r.path).to.equal(ROOT + '/' + segs.join('/'));
        expect(r.trailingSlash).to.equal(slash);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: unencoded safe ASCII names are taken literally', () => {
    const ascii = fc.stringMatching(/^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,10}$/);
    fc.assert(
      fc.property(fc.array(ascii, { minLength: 1, maxLength: 5 }), (segs) => {
        const r = resolveUrlPath(ROOT, '/' + segs.join('/'), opts);
        expect(r.ok && r.rel).to.equal(segs.join('/'));
      }),
    );
  });

  const cases: [string, 400 | 404][] = [
    ['/../etc/passwd', 400],
    ['/a/../../etc/passwd', 400],
    ['/%2e%2e/etc/passwd', 400],
    ['/%2E%2E%2Fetc%2Fpasswd', 400],
    ['/..%2fetc%2fpasswd', 400],
    ['/a%2f..%2f..%2fsecret', 400],
    ['/..%5csecret', 400],
    ['/..\\secret', 400],
    ['/a%00.txt', 400],
    ['/%c0%ae%c0%ae/secret', 400],
    ['/%e0%80%ae%e0%80%ae/secret', 400],
    ['/%zz', 400],
    ['/abc%', 400],
    ['/abc%4', 400],
    ['/./a', 400],
    ['/.env', 404],
    ['/.git/config', 404],
    ['/a/.hidden/b', 404],
    ['/%2egit/config', 404],
  ];
  for (const [raw, status] of cases) {
    it(`refuses ${JSON.stringify(raw)} with ${status}`, () => {
      const r = resolveUrlPath(ROOT, raw, opts);
      expect(r.ok).to.equal(false);
      if (!r.ok) expect(r.status).to.equal(status);
    });
  }

  it('decodes once: %252e is the literal name "%2e", inside root', () => {
    const r = resolveUrlPath(ROOT, '/%252e%252e/secret', opts);
    expect(r.ok && r.path).to.equal(`${ROOT}/%2e%2e/secret`);
  });

  it('serves dotfiles only when asked', () => {
    const r = resolveUrlPath(ROOT, '/.well-known/x', { dotfiles: true });
    expect(r.ok && r.rel).to.equal('.well-known/x');
    const dotdot = resolveUrlPath(ROOT, '/../x', { dotfiles: true });
    expect(dotdot.ok).to.equal(false);
  });

  it('maps the mount root and directory URLs', () => {
    expect(resolveUrlPath(ROOT, '', opts)).to.deep.equal({ ok: true, rel: '', path: ROOT, trailingSlash: false });
    expect(resolveUrlPath(ROOT, '/', opts)).to.deep.equal({ ok: true, rel: '', path: ROOT, trailingSlash: true });
    expect(resolveUrlPath(ROOT, '/a//b/', opts)).to.deep.equal({ ok: true, rel: 'a/b', path: `${ROOT}/a/b`, trailingSlash: true });
    expect(resolveUrlPath('/', '/etc/x', opts)).to.deep.include({ ok: true, path: '/etc/x' });
  });
});
