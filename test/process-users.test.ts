// Process pools under their own users (pool.user / pool.group): two sites, two users. Each app
// reads its own files and not the other's nor hostd's, runs as its pool's uid, cannot signal
// hostd, and resolves relative paths from its own root. Needs root (CI runs as root; .ci/run and
// the `before` hook create the users); skipped otherwise.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { lookupUser } from '../shared/config/resolve/accounts.js';
import { CLI, ensureTestUsers, freePort, startHost, TEST_USERS, type TestHost } from './helpers/index.js';

const PROBE = resolve('test/fixtures/apps/process-probe.mjs');
const USERS = TEST_USERS;

/** A site's folder, world-traversable, with an app, a package.json (its root) and files only its user reads. */
function makeSite(root: string, name: string, user: { uid: number; gid: number }): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'data'), { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'data'), 0o750);
  chownSync(join(dir, 'data'), user.uid, user.gid);
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  copyFileSync(PROBE, join(dir, 'app.mjs'));
  const secret = join(dir, 'data', 'secret.txt');
  writeFileSync(secret, `secret of ${name}\n`);
  chmodSync(secret, 0o600);
  chownSync(secret, user.uid, user.gid);
  return dir;
}

describe('process pools under their own users (pool.user, pool.group)', function () {
  this.timeout(60_000);
  let h: TestHost;
  let root: string;
  let port: number;
  const dirs: Record<string, string> = {};
  const uids: Record<string, number> = {};
  let hostSecret: string;

  const get = async (site: string, path: string) => {
    const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host: `${site}.test` } });
    return { status: res.statusCode, text: await res.body.text() };
  };

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    ensureTestUsers();
    root = mkdtempSync(join(tmpdir(), 'hostd-users-'));
    chmodSync(root, 0o755);
    hostSecret = join(root, 'hostd-secret.txt');
    writeFileSync(hostSecret, 'hostd only\n');
    chmodSync(hostSecret, 0o600);
    for (const [site, user] of [
      ['a', 'hostd-a'],
      ['b', 'hostd-b'],
    ] as const) {
      const account = lookupUser(user)!;
      uids[site] = account.uid;
      dirs[site] = makeSite(root, site, account);
    }
    port = await freePort();
    h = await startHost(
      (['a', 'b'] as const).map((site, i) => ({
        serverName: [`${site}.test`],
        listen: port,
        apps: [{ url: '/', module: join(dirs[site], 'app.mjs'), pool: { isolation: 'process' as const, user: USERS[i], threads: 1 } }],
      })),
    );
  });
  after(async () => {
    await h?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("each app runs as its pool's user, in its app root", async () => {
    for (const site of ['a', 'b']) {
      const r = await get(site, '/who');
      expect(r.status).to.equal(200);
      const w = JSON.parse(r.text) as { uid: number; cwd: string };
      expect(w.uid).to.equal(uids[site]);
      expect(w.cwd).to.equal(dirs[site]);
    }
  });

  it("each app reads its own files and gets EACCES on the other's and on hostd's", async () => {
    expect(await get('a', `/read?file=${join(dirs.a, 'data/secret.txt')}`)).to.deep.equal({ status: 200, text: 'secret of a\n' });
    expect(await get('b', `/read?file=${join(dirs.b, 'data/secret.txt')}`)).to.deep.equal({ status: 200, text: 'secret of b\n' });
    expect(await get('a', `/read?file=${join(dirs.b, 'data/secret.txt')}`)).to.deep.equal({ status: 403, text: 'EACCES' });
    expect(await get('b', `/read?file=${join(dirs.a, 'data/secret.txt')}`)).to.deep.equal({ status: 403, text: 'EACCES' });
    expect(await get('a', `/read?file=${hostSecret}`)).to.deep.equal({ status: 403, text: 'EACCES' });
    expect(await get('a', '/read?file=/proc/1/environ')).to.deep.equal({ status: 403, text: 'EACCES' });
  });

  it("a relative fs path resolves from the app root, not from hostd's directory", async () => {
    expect(process.cwd()).to.not.equal(dirs.a);
    expect(await get('a', '/read?file=data/secret.txt')).to.deep.equal({ status: 200, text: 'secret of a\n' });
  });

  it("an app's process.kill() of hostd gets EPERM (and hostd lives on)", async () => {
    for (const sig of ['SIGTERM', 'SIGKILL']) {
      expect(await get('a', `/signal?pid=${process.pid}&sig=${sig}`)).to.deep.equal({ status: 403, text: 'EPERM' });
    }
    expect((await get('b', '/')).status).to.equal(200);
  });

  it('naming an unknown user is a config error at its line; naming a user when hostd is not root says why', async () => {
    const dir = join(root, 'conf');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const file = join(dir, 'x.yaml');
    writeFileSync(
      file,
      `serverName: x.test\nlisten: 0\napps:\n  - url: /\n    module: ${join(dirs.a, 'app.mjs')}\n    pool:\n      isolation: process\n      user: no-such-user-here\n`,
    );
    chmodSync(file, 0o644);
    const check = (uid?: number) =>
      new Promise<{ code: number | null; out: string }>((done) => {
        const p = spawn(process.execPath, [CLI, 'check', '--sites', file], { uid, gid: uid, cwd: root });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        p.on('close', (code) => done({ code, out }));
      });
    const asRoot = await check();
    expect(asRoot.code).to.equal(1);
    expect(asRoot.out).to.include(`${file}:8: apps[0].pool.user: no such user "no-such-user-here"`);
    const asUser = await check(uids.a);
    expect(asUser.code).to.equal(1);
    expect(asUser.out).to.match(/x\.yaml:8: apps\[0\]\.pool\.user: hostd is not running as root/);
  });

  it("hostd check loads a process pool's app as the pool's user, not as root", async () => {
    const dir = join(root, 'conf-ok');
    mkdirSync(dir);
    const file = join(dir, 'a.yaml');
    writeFileSync(
      file,
      `serverName: a.test\nlisten: 0\napps:\n  - url: /\n    module: ${join(dirs.a, 'app.mjs')}\n    pool: { isolation: process, user: hostd-a, env: { PROBE_SAY_UID: "1" } }\n`,
    );
    const r = await new Promise<{ code: number | null; err: string }>((done) => {
      const p = spawn(process.execPath, [CLI, 'check', '--sites', file], { cwd: root });
      let err = '';
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => done({ code, err }));
    });
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.include(`loaded as uid ${uids.a}`);
  });
});
