// Reload without dropping a request: SIGHUP to a real hostd under continuous load, code changes
// rolled into the pools, broken configurations and apps rejected while the old ones keep
// serving, listeners opened and closed by a reload, and code reload by watch / touchFile.
import { rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  type AppEcho,
  basicVhost,
  canConnect,
  freePort,
  getJson,
  getText,
  type HostdProcess,
  makeSite,
  type Site,
  sleep,
  spawnHostd,
  startHost,
  startLoad,
  waitFor,
} from './helpers/index.js';

const version = async (url: string) => (await getJson<AppEcho>(url)).json.version;

describe('ops: reload (SIGHUP)', function () {
  this.timeout(60_000);
  let site: Site;
  let hostd: HostdProcess;
  let origin: string;
  let generation = 1;

  /**
   * Sends SIGHUP and waits for the reload to end; resolves with what it logged. A site whose file
   * or app is broken keeps its previous configuration (issue 19) while the reload goes on: the
   * generation moves either way.
   */
  async function hup(): Promise<string> {
    const before = hostd.stderr().length;
    hostd.proc.kill('SIGHUP');
    const pattern = new RegExp(`reloaded generation=${generation + 1}`);
    await waitFor(() => pattern.test(hostd.stderr().slice(before)), { timeout: 15_000, what: 'the reload after SIGHUP' });
    generation++;
    return hostd.stderr().slice(before);
  }
  const KEPT = 'reload: this site keeps its previous configuration problem=';

  before(async () => {
    site = await makeSite();
    hostd = await spawnHostd(['--sites', site.sites, '--access-log', 'off']);
    origin = `http://127.0.0.1:${hostd.port}`;
  });
  after(async () => {
    if (hostd) expect(await hostd.stop()).to.equal(0);
    if (site) await rm(site.root, { recursive: true, force: true });
  });

  it('serves every request with 2xx through three reloads under load, and the edited code answers', async () => {
    expect(await version(`${origin}/app/x`)).to.equal('v1');
    const load = startLoad(origin, ['/', '/app/x', '/big.txt'], { concurrency: 16 });
    // Each step waits for the load to make progress (answers, not time) before the next reload.
    const progress = async (n: number) => {
      const from = load.result.total;
      await waitFor(() => load.result.total >= from + n, { timeout: 20_000, what: `${n} more answers under load` });
    };
    try {
      await progress(60);
      await site.writeApp('v2');
      for (let i = 0; i < 3; i++) {
        expect(await hup()).not.to.include(KEPT);
        await progress(60);
      }
    } finally {
      await load.stop();
    }
    const r = load.result;
    expect(r.errors, r.errors.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(Object.keys(r.byStatus)).to.deep.equal(['200']);
    expect(r.total).to.be.at.least(240);
    expect(r.versions.v2, 'new code answered during the run').to.be.greaterThan(0);
    expect(await version(`${origin}/app/x`)).to.equal('v2');
  });

  it('keeps the old configuration when the new vhost file is broken, and logs why', async () => {
    await site.writeVhost('serverName: ["*"\nlisten: [oops\n');
    expect(await hup()).to.match(new RegExp(`${KEPT}".*main\\.yaml:\\d+: `));
    expect((await getText(`${origin}/`)).text).to.equal('static hello\n');
    expect(await version(`${origin}/app/x`)).to.equal('v2');
  });

  it('keeps the running workers when the edited app no longer loads', async () => {
    await site.writeVhost(basicVhost());
    await writeFile(site.appFile, 'export default {{ syntax error');
    expect(await hup()).to.match(new RegExp(`${KEPT}.*app\\.mjs`));
    expect(await version(`${origin}/app/x`)).to.equal('v2');
    await site.writeApp('v3');
    expect(await hup()).not.to.include(KEPT);
    expect(await version(`${origin}/app/x`)).to.equal('v3');
  });

  it('a reload that adds an app which fails to load keeps that site as it was (the old mounts keep serving)', async () => {
    await writeFile(join(site.root, 'app', 'broken.mjs'), 'throw new Error("cannot start")');
    await site.writeVhost(basicVhost(`  - url: /new\n    module: ../app/broken.mjs\n    pool: { threads: 1 }\n`));
    expect(await hup()).to.match(new RegExp(`${KEPT}.*broken\\.mjs failed to load`));
    // /new is not mounted: the static root answers it.
    expect((await getText(`${origin}/new/`)).status).to.equal(404);
    expect(await version(`${origin}/app/x`)).to.equal('v3');
    await site.writeVhost(basicVhost());
    await hup();
  });

  it('opens and closes listeners added and removed by a reload', async () => {
    const port = await freePort();
    const extra = join(site.sites, 'extra.yaml');
    await writeFile(extra, `serverName: extra.test\nlisten: "127.0.0.1:${port}"\nstatic:\n  - url: /\n    dir: ../public\n`);
    await hup();
    const res = await getText(`http://127.0.0.1:${port}/`, { host: 'extra.test' });
    expect(res.status).to.equal(200);
    expect(res.text).to.equal('static hello\n');
    await rm(extra);
    await hup();
    expect(await canConnect(port)).to.equal(false);
    expect((await getText(`${origin}/`)).status).to.equal(200);
  });
});

describe('ops: programmatic reload and mount', function () {
  this.timeout(30_000);
  let site: Site;
  before(async () => {
    site = await makeSite();
  });
  after(async () => site && (await rm(site.root, { recursive: true, force: true })));

  it('host.reload(next) applies new sites; a rejected one leaves the old in place; host.mount() adds without rolling', async () => {
    const pub = join(site.root, 'public');
    const v1 = {
      serverName: ['*'],
      listen: 0,
      static: [{ url: '/', dir: pub }],
      apps: [{ url: '/app', module: site.appFile, pool: { threads: 1 } }],
    };
    const h = await startHost([v1]);
    try {
      const rolls = async () => (await h.pool('/app')).restarts.roll;
      await h.host.reload([
        {
          ...v1,
          static: [
            { url: '/', dir: pub },
            { url: '/files', dir: pub },
          ],
        },
      ]);
      expect(h.host.generation).to.equal(2);
      expect((await getText(h.url('/files/index.html'))).text).to.equal('static hello\n');
      expect(await rolls()).to.equal(1);

      let err: unknown;
      await h.host.reload([{ ...v1, static: [{ url: '/', dir: join(site.root, 'nowhere') }] }]).catch((e) => (err = e));
      expect((err as { code?: string }).code).to.equal('HOSTD_CONFIG');
      expect(h.host.generation).to.equal(2);
      expect((await getText(h.url('/files/index.html'))).status).to.equal(200);

      h.host.mount({ serverName: ['*'], listen: 0 }, { url: '/more', dir: pub });
      await waitFor(async () => (await getText(h.url('/more/index.html'))).status === 200, { what: 'the new mount' });
      expect(h.host.generation).to.equal(3);
      expect(await rolls()).to.equal(1);
    } finally {
      await h.close();
    }
  });
});

describe('ops: code reload without a signal', function () {
  this.timeout(30_000);
  let site: Site;
  beforeEach(async () => {
    site = await makeSite();
  });
  afterEach(async () => site && (await rm(site.root, { recursive: true, force: true })));

  const vhost = (site: Site, extra: Record<string, unknown>) => ({
    serverName: ['*'],
    apps: [{ url: '/app', module: site.appFile, pool: { threads: 1 }, ...extra }],
  });

  it('touchFile: touching the file rolls the pool and the new code answers', async () => {
    const touch = join(site.root, 'app', 'reload.touch');
    await writeFile(touch, '');
    const h = await startHost([vhost(site, { touchFile: touch })]);
    try {
      expect(await version(h.url('/app/'))).to.equal('v1');
      await site.writeApp('v2');
      // "Nothing happens" is the feature: more than one 500 ms touchFile check passes, and the
      // edit alone does not roll the workers.
      await sleep(1200);
      expect(await version(h.url('/app/'))).to.equal('v1');
      const later = new Date(Date.now() + 5000);
      await utimes(touch, later, later);
      await waitFor(async () => (await version(h.url('/app/'))) === 'v2', { what: 'v2 after touch' });
    } finally {
      await h.close();
    }
  });

  it('a roll for new code empties the response cache: the new code answers at once', async () => {
    const mod = join(site.root, 'app', 'cached.mjs');
    const source = (v: string) =>
      `export default { fetch: () => new Response(${JSON.stringify(v)}, { headers: { 'cache-control': 'max-age=600' } }) };\n`;
    await writeFile(mod, source('v1'));
    const h = await startHost([
      { serverName: ['*'], apps: [{ url: '/app', module: mod, pool: { threads: 1 }, watch: true, cache: { maxSize: '1mb' } }] },
    ]);
    try {
      expect((await getText(h.url('/app/'))).text).to.equal('v1');
      const hit = await getText(h.url('/app/'));
      expect([hit.text, hit.headers['x-cache']]).to.deep.equal(['v1', 'HIT']);
      await writeFile(mod, source('v2'));
      // Without the purge the stored v1 would be answered for ten minutes.
      await waitFor(async () => (await getText(h.url('/app/'))).text === 'v2', { what: 'v2 after edit' });
    } finally {
      await h.close();
    }
  });

  it('watch: true: editing the module rolls the pool', async () => {
    const h = await startHost([vhost(site, { watch: true })]);
    try {
      expect(await version(h.url('/app/'))).to.equal('v1');
      await site.writeApp('v2');
      await waitFor(async () => (await version(h.url('/app/'))) === 'v2', { what: 'v2 after edit' });
    } finally {
      await h.close();
    }
  });
});
