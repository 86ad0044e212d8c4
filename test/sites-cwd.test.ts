// Issue 19, "Working directory" and "Env files": each app mount runs in its app root (or
// pool.cwd) with its own .env, so two sites with their own public/ and .env each see their own.
// Real hostd, real sockets: the sites are test/fixtures/sites (an Express app and a fetch app).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { appRoot } from '../shared/config/resolve/app-root.js';
import { getText, type HostdProcess, readStatus, runCli, spawnHostd, statusBase } from './helpers/index.js';

const SITES = resolve('test/fixtures/sites');
const A = join(SITES, 'a');
const B = join(SITES, 'b');

describe('sites: each app in its own working directory, with its own .env', () => {
  let hostd: HostdProcess;
  let origin: string;
  const get = (host: string, path: string) => getText(`${origin}${path}`, { host });

  before(async () => {
    hostd = await spawnHostd(['--sites', join(SITES, 'sites'), '--listen', '127.0.0.1:0', '--no-supervisor', '--access-log', 'off']);
    origin = `http://127.0.0.1:${hostd.port}`;
  });
  after(async () => {
    if (hostd) expect(await hostd.stop()).to.equal(0);
  });

  it("serves each site's own public/ through express.static('public') and path.resolve()", async () => {
    const a = await get('a.test', '/');
    expect(a.status).to.equal(200);
    expect(a.text.trim()).to.equal('<p>site A</p>');
    const b = JSON.parse((await get('b.test', '/')).text) as { cwd: string; page: string };
    expect(b.page).to.equal('<p>site B</p>');
  });

  it('process.cwd() is the app root (nearest package.json above the module), or pool.cwd', async () => {
    const a = JSON.parse((await get('a.test', '/info')).text) as { cwd: string; resolved: string };
    expect(a).to.include({ cwd: A, resolved: join(A, 'public') });
    const b = JSON.parse((await get('b.test', '/')).text) as { cwd: string };
    expect(b.cwd).to.equal(B); // pool.cwd: ../b, relative to the vhost file's folder
  });

  it('loads pool.envFile with Node’s parser into process.env and the env argument; pool.env wins over the file', async () => {
    const a = JSON.parse((await get('a.test', '/info')).text) as Record<string, string>;
    expect(a).to.include({ greeting: 'hello from a', wins: 'from-pool', quoted: 'two words' });
    const b = JSON.parse((await get('b.test', '/')).text) as Record<string, string>;
    expect(b).to.include({ greeting: 'hello from b', envArg: 'hello from b' });
  });

  it('/status shows each pool’s cwd, and the log says once per pool what a relative fs path does', async () => {
    const status = await readStatus(await statusBase(hostd));
    const cwdOf = (name: string) => status.sites.find((s) => s.name === name)?.mounts[0].pool?.cwd;
    expect(cwdOf('a')).to.equal(A);
    expect(cwdOf('b')).to.equal(B);
    const said = (dir: string) => hostd.stderr().split(`the app runs in ${dir}:`).length - 1;
    expect(said(A)).to.equal(1);
    expect(said(B)).to.equal(1);
    expect(hostd.stderr()).to.include('use path.resolve(');
  });
});

describe('sites: the app root and the env file as configuration', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostd-sites-cwd-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the app root is the nearest folder at or above the module with a package.json, else the module’s folder', () => {
    mkdirSync(join(dir, 'proj/src/routes'), { recursive: true });
    writeFileSync(join(dir, 'proj/package.json'), '{}');
    expect(appRoot(join(dir, 'proj/src/routes/app.mjs'))).to.equal(join(dir, 'proj'));
    expect(appRoot(join(dir, 'proj/app.mjs'))).to.equal(join(dir, 'proj'));
    mkdirSync(join(dir, 'loose'));
    expect(appRoot(join(dir, 'loose/app.mjs'))).to.equal(join(dir, 'loose')); // no package.json up to /
  });

  it('hostd check shows each site’s name, its apps’ working directory and env file', async () => {
    const r = await runCli(['check', '--sites', join(SITES, 'sites')]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/host a\.test {2}site a {2}\[/);
    expect(r.stdout).to.include(`cwd     ${A}  (envFile ${join(A, '.env')})`);
    expect(r.stdout).to.include(`cwd     ${B}  (envFile ${join(B, '.env')})`);
  });

  it('a missing envFile or cwd is a config error naming file:line and the key', async () => {
    const sites = join(dir, 'sites');
    mkdirSync(sites);
    writeFileSync(join(sites, 'app.mjs'), 'export default () => new Response("x");\n');
    const mount = (pool: string) => `apps:\n  - url: /\n    module: ./app.mjs\n    pool:\n      ${pool}\n`;
    writeFileSync(join(sites, 'blog.yaml'), `serverName: blog.test\n${mount('cwd: ./nope')}`);
    writeFileSync(join(sites, 'shop.yaml'), `serverName: shop.test\n${mount('envFile: .env.missing')}`);
    const r = await runCli(['check', '--sites', sites]);
    expect(r.code).to.equal(1);
    // The env file is relative to the app's working directory: here the module's folder (no package.json above).
    expect(r.stderr).to.include(`${join(sites, 'blog.yaml')}:6: apps[0].pool.cwd: directory not found: ${join(sites, 'nope')}`);
    expect(r.stderr).to.include(`${join(sites, 'shop.yaml')}:6: apps[0].pool.envFile: file not found: ${join(sites, '.env.missing')}`);
  });
});
