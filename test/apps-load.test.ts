// loadApp in the test process: modules of every kind, compiled or not, exercised with real
// Request objects through the FetchHandler they are normalised to.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { compileApp, loadApp } from '../daemon/app/load.js';
import type { AppContext } from '../daemon/app/types.js';

const TS = resolve('test/fixtures/ts-apps');
const NODE = resolve('test/fixtures/node-apps');
const ctx: AppContext = {
  waitUntil() {},
  remoteAddress: '192.0.2.7',
  mount: '',
  requestId: 'req-1',
  upgrade: () => false,
  publish: () => 0,
};

describe('apps: loadApp', () => {
  let cacheDir: string;
  before(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'hostd-apps-test-'));
  });
  after(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  async function load(path: string, iface: 'auto' | 'fetch' | 'node' = 'auto') {
    return loadApp(path, { interface: iface, cacheDir });
  }

  describe('fetch apps', () => {
    it('loads a TypeScript app with types and a local .ts import; env and ctx reach it', async () => {
      const app = await load(join(TS, 'basic/app.ts'));
      expect(app.interface).to.equal('fetch');
      const res = await app.fetch(new Request('http://example.test/x?name=ada'), { GREETING: 'hi' }, { ...ctx, mount: '/m' });
      expect(res.status).to.equal(200);
      const body = await res.json();
      expect(body).to.deep.include({ greeting: 'hello ada', n: 3, env: 'hi', remoteAddress: '192.0.2.7', mount: '/m' });
      // import.meta.url is the source file's, not the compiled cache file's.
      expect(body.self).to.equal('file://' + join(TS, 'basic/app.ts'));
    });

    it('compiles into the cache dir, named by content hash, and reuses it', async () => {
      const a = await compileApp(join(TS, 'basic/app.ts'), cacheDir);
      const b = await compileApp(join(TS, 'basic/app.ts'), cacheDir);
      expect(a).to.equal(b);
      expect(a.startsWith(cacheDir)).to.equal(true);
      expect(a).to.match(/app-[0-9a-f]{16}\.mjs$/);
      expect((await readdir(cacheDir)).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
      // Plain JavaScript is imported as it is.
      expect(await compileApp(join(NODE, 'fetch-fn.mjs'), cacheDir)).to.equal(join(NODE, 'fetch-fn.mjs'));
    });

    it('refuses a cache folder it does not own alone: writable by others, or a link (it imports from there)', async () => {
      const open = join(cacheDir, 'open');
      await mkdir(open);
      await chmod(open, 0o777); // as a folder someone else made in /tmp could be
      const linked = join(cacheDir, 'linked');
      await symlink(cacheDir, linked);
      for (const dir of [open, linked]) {
        const err = await compileApp(join(TS, 'basic/app.ts'), dir).then(
          () => null,
          (e: Error & { code?: string }) => e,
        );
        expect(err?.code, dir).to.equal('HOSTD_APP_LOAD');
        expect(err?.message).to.include("is not hostd's own");
      }
    });

    it('loads a precompiled entry given by the pool', async () => {
      const entry = await compileApp(join(TS, 'basic/app.ts'), cacheDir);
      const app = await loadApp(join(TS, 'basic/app.ts'), { interface: 'auto', entry });
      const res = await app.fetch(new Request('http://e.test/?name=x'), {}, ctx);
      expect((await res.json()).greeting).to.equal('hello x');
    });

    it('runs a .tsx app with a custom JSX factory', async () => {
      const app = await load(join(TS, 'jsx/app.tsx'));
      const res = await app.fetch(new Request('http://e.test/?who=bob'), {}, ctx);
      expect(res.headers.get('content-type')).to.equal('text/html');
      expect(await res.text()).to.equal('<h1 class="t">hi bob</h1><p><b>1</b><b>2</b></p>');
    });

    it('runs a .jsx app', async () => {
      const app = await load(join(TS, 'jsx/app.jsx'));
      const res = await app.fetch(new Request('http://e.test/'), {}, ctx);
      expect(await res.text()).to.equal('<div><span>from jsx</span></div>');
    });

    it('resolves a bare import from the app’s own node_modules (ESM condition)', async () => {
      const app = await load(join(TS, 'with-deps/app.ts'));
      const res = await app.fetch(new Request('http://e.test/'), {}, ctx);
      expect(await res.text()).to.equal('HELLO! (tiny-dep esm)');
    });

    it('loads a CommonJS app (module.exports = { fetch })', async () => {
      const app = await load(join(NODE, 'cjs-app.cjs'));
      expect(app.interface).to.equal('fetch');
      const res = await app.fetch(new Request('http://e.test/p/q'), {}, ctx);
      expect(await res.text()).to.equal('cjs /p/q');
    });

    it('loads a default-exported function as a fetch handler', async () => {
      const app = await load(join(NODE, 'fetch-fn.mjs'));
      expect(app.interface).to.equal('fetch');
      const res = await app.fetch(new Request('http://e.test/', { method: 'PUT', body: 'x' }), {}, ctx);
      expect(await res.text()).to.equal('fn PUT');
    });

    it('loads a Hono app from npm (export default app → app.fetch)', async () => {
      const app = await load(join(NODE, 'hono-app.mjs'));
      expect(app.interface).to.equal('fetch');
      const res = await app.fetch(new Request('http://e.test/hello'), {}, ctx);
      expect(await res.json()).to.deep.equal({ hello: 'hono', url: 'http://e.test/hello', prefix: null });
      const post = await app.fetch(
        new Request('http://e.test/echo', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } }),
        {},
        ctx,
      );
      expect(await post.json()).to.deep.equal({ got: { a: 1 } });
      const cookies = await app.fetch(new Request('http://e.test/cookies'), {}, ctx);
      expect(cookies.headers.getSetCookie()).to.deep.equal(['h1=1', 'h2=2']);
    });
  });

  describe('interface detection', () => {
    it('detects Express, Koa, arity-2 listeners and http.Server as node', async () => {
      for (const f of ['express-app.mjs', 'koa-app.mjs', 'koa-callback.mjs', 'raw-listener.mjs', 'cjs-listener.cjs', 'http-server.mjs']) {
        const app = await load(join(NODE, f));
        expect(app.interface, f).to.equal('node');
      }
    });

    it('refuses an ambiguous export under auto, naming the mount setting', async () => {
      const err = await load(join(NODE, 'ambiguous.mjs')).then(
        () => null,
        (e: unknown) => e as Error & { code?: string },
      );
      expect(err?.code).to.equal('HOSTD_APP_LOAD');
      expect(err?.message).to.contain('ambiguous.mjs');
      expect(err?.message).to.contain('interface: node');
    });

    it('honours a forced interface', async () => {
      const asFetch = await load(join(NODE, 'ambiguous.mjs'), 'fetch');
      expect(asFetch.interface).to.equal('fetch');
      const asNode = await load(join(NODE, 'koa-callback.mjs'), 'node');
      const res = await asNode.fetch(new Request('http://e.test/k?x=1'), {}, ctx);
      expect(await res.text()).to.equal('koa callback /k?x=1');
      const bad = await load(join(NODE, 'cjs-app.cjs'), 'node').then(
        () => null,
        (e: Error) => e,
      );
      expect(bad?.message).to.match(/interface: node needs/);
    });
  });

  describe('load failures', () => {
    async function failure(path: string): Promise<Error & { code?: string }> {
      return load(path).then(
        () => {
          throw new Error(`expected ${path} to fail`);
        },
        (e: Error & { code?: string }) => e,
      );
    }

    it('a TypeScript syntax error names the file, line and column', async () => {
      const err = await failure(join(TS, 'broken/syntax.ts'));
      expect(err.code).to.equal('HOSTD_APP_LOAD');
      expect(err.message).to.match(/^app .*broken\/syntax\.ts failed to load: .*\(syntax\.ts:3:23\)$/);
    });

    it('a JavaScript syntax error names the file and line', async () => {
      const err = await failure(join(NODE, 'syntax-error.mjs'));
      expect(err.code).to.equal('HOSTD_APP_LOAD');
      expect(err.message).to.match(/failed to load: SyntaxError: .*\(syntax-error\.mjs:3:\d+\)$/);
    });

    it('an exception at import time names the .ts line', async () => {
      const err = await failure(join(TS, 'broken/throws-at-import.ts'));
      expect(err.code).to.equal('HOSTD_APP_LOAD');
      expect(err.message).to.contain('throws-at-import.ts failed to load: Error: DATABASE_URL is not set (throws-at-import.ts:4:');
      const js = await failure(join(NODE, 'throws-at-import.mjs'));
      expect(js.message).to.contain('TypeError: bad config (throws-at-import.mjs:1:');
    });

    it('a missing package is reported at load, with the import’s location', async () => {
      const err = await failure(join(TS, 'broken/missing-dep.ts'));
      expect(err.message).to.contain('Could not resolve "no-such-package-hostd" (missing-dep.ts:1:');
    });

    it('a module with no usable export says what was expected', async () => {
      const err = await failure(join(TS, 'broken/no-export.ts'));
      expect(err.code).to.equal('HOSTD_APP_LOAD');
      expect(err.message).to.contain('no-export.ts failed to load: no usable export');
      expect(err.message).to.contain('no default export');
    });

    it('a missing file is a load error, not a crash', async () => {
      const err = await failure(join(TS, 'nope/missing.ts'));
      expect(err.code).to.equal('HOSTD_APP_LOAD');
      expect(err.message).to.contain('missing.ts');
    });
  });

  describe('source maps', function () {
    this.timeout(30000);
    // Checked in a plain `node` child (no tsx, whose own source-map support would hide a
    // regression): loadApp must turn Node's source maps on by itself.
    it('a thrown error’s stack points at the user’s .ts line', async () => {
      const outDir = resolve('node_modules/.cache/hostd-test');
      const outfile = join(outDir, 'load.mjs');
      await build({
        entryPoints: ['daemon/app/load.ts'],
        bundle: true,
        platform: 'node',
        format: 'esm',
        packages: 'external',
        outfile,
        logLevel: 'silent',
      });
      const script = `
        const { loadApp } = await import(${JSON.stringify('file://' + outfile)});
        const app = await loadApp(${JSON.stringify(join(TS, 'basic/app.ts'))}, { interface: 'auto', cacheDir: ${JSON.stringify(cacheDir)} });
        try { await app.fetch(new Request('http://e.test/boom'), {}, { waitUntil() {}, remoteAddress: '', mount: '', requestId: '' }); }
        catch (e) { console.log(e.stack); }`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      expect(stdout).to.contain('boom from app.ts');
      expect(stdout).to.match(/basic\/app\.ts:14:\d+\)/);
    });
  });
});
