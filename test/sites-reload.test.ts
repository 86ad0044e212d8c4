// Issue 19, "Reload per site": POST /reload?site=NAME[&mount=/x] on the status listener rolls one
// site's pools and leaves every other site's workers (and their in-memory state) alone; a
// broken file is refused with file:line while the site keeps serving. SIGHUP reloads every site,
// but a site whose file or app is broken keeps its previous configuration and pools.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { getText, type HostdProcess, spawnHostd, startHost, statusBase, statusRequest } from './helpers/index.js';

// An in-memory counter: a fresh worker starts again at 1.
const COUNTER = `let n = 0;
export default { fetch: (_request, env) => Response.json({ n: ++n, version: env.VERSION }) };
`;

const siteA = (version: string) =>
  `serverName: a.test\napps:\n  - url: /\n    module: ../counter.mjs\n    pool: { env: { VERSION: ${version} } }\n  - url: /other\n    module: ../counter.mjs\n`;
const siteB = (version: string) =>
  `serverName: b.test\napps:\n  - url: /\n    module: ../b.mjs\n    pool: { env: { VERSION: ${version} } }\n`;

describe('sites: reload one site, or all but the broken ones', () => {
  let dir: string;
  let hostd: HostdProcess;
  let status: string;
  const file = (name: string) => join(dir, 'sites', name);
  const hit = async (host: string, path = '/') => {
    const r = await getText(`http://127.0.0.1:${hostd.port}${path}`, { host });
    expect(r.status, `${host}${path}: ${r.text}`).to.equal(200);
    return JSON.parse(r.text) as { n: number; version: string };
  };
  const reloadSite = (query: string) => statusRequest(status, `/reload?${query}`, { method: 'POST' });
  /** SIGHUP, then wait for the reload it starts to finish (the n-th "reloaded" line). */
  const sighup = async () => {
    const before = hostd.stderr().split(' info reloaded ').length;
    hostd.proc.kill('SIGHUP');
    await hostd.waitFor(new RegExp(`( info reloaded [^\\n]*\\n[^]*){${before}}`), 30_000);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hostd-site-reload-'));
    writeFileSync(join(dir, 'counter.mjs'), COUNTER);
    writeFileSync(join(dir, 'b.mjs'), COUNTER);
    mkdirSync(join(dir, 'sites'));
    writeFileSync(file('a.yaml'), siteA('a1'));
    writeFileSync(file('b.yaml'), siteB('b1'));
    hostd = await spawnHostd(['--sites', join(dir, 'sites'), '--listen', '127.0.0.1:0', '--no-supervisor', '--access-log', 'off']);
    status = await statusBase(hostd);
  });
  after(async () => {
    if (hostd) expect(await hostd.stop()).to.equal(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it("POST /reload?site=a rolls a's pools; b's in-memory counter keeps running", async () => {
    await hit('a.test');
    expect((await hit('a.test')).n).to.equal(2);
    await hit('a.test', '/other');
    for (let i = 0; i < 3; i++) await hit('b.test');
    const r = await reloadSite('site=a');
    expect(r.status, r.text).to.equal(200);
    expect(JSON.parse(r.text)).to.include({ site: 'a' });
    expect(await hit('a.test')).to.deep.equal({ n: 1, version: 'a1' });
    expect((await hit('a.test', '/other')).n).to.equal(1);
    expect(await hit('b.test')).to.deep.equal({ n: 4, version: 'b1' });
  });

  it('&mount=/x rolls that app mount only', async () => {
    const rootBefore = (await hit('a.test')).n;
    await hit('a.test', '/other');
    const r = await reloadSite('site=a&mount=/other');
    expect(r.status, r.text).to.equal(200);
    expect((await hit('a.test', '/other')).n).to.equal(1);
    expect((await hit('a.test')).n).to.equal(rootBefore + 1);
  });

  it('an unknown site or mount is 404, no site is 400', async () => {
    const none = await reloadSite('site=nope');
    expect(none.status).to.equal(404);
    expect(none.text).to.include('no site named "nope" (sites: a, b)');
    const mount = await reloadSite('site=a&mount=/missing');
    expect(mount.status).to.equal(404);
    expect(mount.text).to.include('site "a" has no app mounted at /missing (apps: /, /other)');
    expect((await reloadSite('mount=/')).status).to.equal(400);
  });

  it('a broken file is refused with 422 and file:line; the site keeps serving its running configuration', async () => {
    const n = (await hit('a.test')).n;
    writeFileSync(file('a.yaml'), siteA('a2').replace('pool: {', 'pool: { threads: zero,'));
    const r = await reloadSite('site=a');
    expect(r.status).to.equal(422);
    expect(r.text).to.include(`${file('a.yaml')}:5: apps[0].pool.threads: expected a whole number of threads, at least 1, got "zero"`);
    expect(await hit('a.test')).to.deep.equal({ n: n + 1, version: 'a1' });
    writeFileSync(file('a.yaml'), siteA('a1'));
  });

  it('SIGHUP with one broken file: that site keeps its configuration and workers, the others apply; the log names file:line', async () => {
    const b = (await hit('b.test')).n;
    writeFileSync(file('a.yaml'), siteA('a2'));
    writeFileSync(file('b.yaml'), `${siteB('b2')}listen: [nope]\n`);
    await sighup();
    expect(await hit('a.test')).to.deep.equal({ n: 1, version: 'a2' });
    expect(await hit('b.test')).to.deep.equal({ n: b + 1, version: 'b1' });
    expect(hostd.stderr()).to.match(/reload: this site keeps its previous configuration problem=".*b\.yaml:6: listen: /);
    // Fixed: the next SIGHUP applies it.
    writeFileSync(file('b.yaml'), siteB('b2'));
    await sighup();
    expect(await hit('b.test')).to.deep.equal({ n: 1, version: 'b2' });
  });

  it('SIGHUP with a new file that conflicts with a running site: the new file is left out, the rest applies', async () => {
    writeFileSync(file('c.yaml'), siteB('c1')); // b.test again, on the same address
    writeFileSync(file('a.yaml'), siteA('a3'));
    await sighup();
    expect((await hit('a.test')).version).to.equal('a3');
    expect(await hit('b.test')).to.deep.equal({ n: 1, version: 'b2' }); // b itself rolled, still b's
    expect(hostd.stderr()).to.match(
      /keeps its previous configuration problem=".*c\.yaml:1: serverName: \\"b\.test\\" on [^ ]+ is already served by .*b\.yaml/,
    );
    rmSync(file('c.yaml'));
  });

  it('SIGHUP with one app that no longer loads: that site keeps its workers, the others roll', async () => {
    const b = (await hit('b.test')).n;
    await hit('a.test');
    writeFileSync(join(dir, 'b.mjs'), 'export default {\n'); // a syntax error
    await sighup();
    expect((await hit('a.test')).n).to.equal(1);
    expect(await hit('b.test')).to.deep.equal({ n: b + 1, version: 'b2' });
    expect(hostd.stderr()).to.match(/reload: this site keeps its previous configuration problem=".*b\.yaml: .*failed to load/);
    writeFileSync(join(dir, 'b.mjs'), COUNTER);
  });
});

describe('sites: host.reloadSite() from code', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostd-reload-site-api-'));
    writeFileSync(join(dir, 'counter.mjs'), COUNTER);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('rolls one site of objects (named site-1, site-2 by position, or by name), and rejects an unknown one', async () => {
    const module = join(dir, 'counter.mjs');
    const h = await startHost([
      { serverName: 'one.test', apps: [{ url: '/', module }] },
      { name: 'two', serverName: 'two.test', apps: [{ url: '/', module }] },
    ]);
    try {
      const hit = async (host: string) => JSON.parse((await getText(h.url('/'), { host })).text) as { n: number };
      await hit('one.test');
      await hit('two.test');
      expect((await h.status()).sites.map((s) => s.name)).to.deep.equal(['site-1', 'two']);
      await h.host.reloadSite('site-1');
      expect((await hit('one.test')).n).to.equal(1);
      expect((await hit('two.test')).n).to.equal(2);
      let refused: unknown;
      await h.host.reloadSite('three').catch((err: unknown) => (refused = err));
      expect(refused).to.include({ code: 'HOSTD_NO_SITE' });
    } finally {
      await h.close();
    }
  });
});
