// `hostd --user NAME`: hostd started as root binds, then its serving process drops to that user
// before any app loads (native-front/control/privileges.ts). The real binary, under its
// supervisor: the serving process's credentials (/proc, every thread), a thread pool's and a
// process pool's app, static files, a TypeScript app compiled after the drop, SIGHUP and
// POST /reload, a restart by the root supervisor, certificates and log files reopened as the
// user, and what the drop rules out (pool.user, ports only root may bind, --user when not root);
// createHost({ user }) in a process of its own. Needs root (CI runs as root; .ci/run creates the
// users); skipped otherwise.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Account } from '../shared/config/resolve/accounts.js';
import { unprivilegedPortStart } from '../native-front/control/privileges.js';
import { Agent, request } from 'undici';
import {
  canConnect,
  ensureTestUsers,
  freePort,
  getJson,
  getText,
  type HostdProcess,
  ROOT,
  runCli,
  selfSigned,
  spawnHostd,
  waitFor,
} from './helpers/index.js';

const PROBE = resolve('test/fixtures/apps/process-probe.mjs');

interface Who {
  pid: number;
  uid: number;
  gid: number;
}

/** The Uid/Gid/CapEff lines of /proc/PID/status: real, effective, saved and filesystem ids. */
function credentials(pid: number | string): { uid: string; gid: string; capEff: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)![1].trim().split(/\s+/).join(' ');
  return { uid: line('Uid'), gid: line('Gid'), capEff: line('CapEff') };
}

describe('hostd --user: the serving process drops from root after binding', function () {
  this.timeout(60_000);
  let root: string;
  let sites: string;
  let user: Account;
  let secret: string;
  let h: HostdProcess;
  let statusSocket: string;
  let listen: string;

  const url = (path: string) => `http://127.0.0.1:${h.port}${path}`;
  const who = async (host: string) => {
    const r = await getJson<Who>(url('/who'), { host });
    expect(r.status, r.text).to.equal(200);
    return r.json;
  };

  before(async function () {
    // Switching users needs root: as anyone else there is nothing to drop from.
    if (process.getuid?.() !== 0) return this.skip();
    user = ensureTestUsers()['hostd-a'];
    root = mkdtempSync(join(tmpdir(), 'hostd-front-user-'));
    chmodSync(root, 0o755);
    const site = join(root, 'site');
    mkdirSync(join(site, 'public'), { recursive: true });
    writeFileSync(join(site, 'public', 'hello.txt'), 'hello from a file hostd-a reads\n');
    writeFileSync(join(site, 'package.json'), '{"type":"module"}\n');
    copyFileSync(PROBE, join(site, 'app.mjs'));
    // (plain JavaScript is TypeScript: enough to make the pool compile it)
    copyFileSync(PROBE, join(site, 'app.ts'));
    secret = join(root, 'root-secret.txt');
    writeFileSync(secret, 'root only\n');
    chmodSync(secret, 0o600);
    // A root hostd that compiled a TypeScript app before leaves the shared compile cache root's.
    mkdirSync(join(tmpdir(), 'hostd-apps'), { recursive: true });
    // A fixed port (not 0): a restarted serving process must come back on the same one.
    listen = `127.0.0.1:${await freePort()}`;
    sites = join(root, 'sites');
    mkdirSync(sites);
    const vhost = (name: string, body: string) => writeFileSync(join(sites, `${name}.yaml`), body);
    vhost(
      'a',
      `serverName: a.test\nlisten: ${listen}\nstatic:\n  - url: /files\n    dir: ../site/public\napps:\n  - url: /\n    module: ../site/app.mjs\n    pool: { env: { PROBE_SAY_UID: "1" } }\n`,
    );
    vhost('b', `serverName: b.test\nlisten: ${listen}\napps:\n  - url: /\n    module: ../site/app.mjs\n    pool: { isolation: process }\n`);
    vhost('c', `serverName: c.test\nlisten: ${listen}\napps:\n  - url: /\n    module: ../site/app.ts\n`);
    statusSocket = join(root, 'status.sock');
    h = await spawnHostd(['--sites', sites, '--user', 'hostd-a', '--access-log', 'off', '--status', statusSocket]);
  });

  after(async () => {
    await h?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('the serving process runs as the user, with no way back to root; the supervisor stays root', async () => {
    const { pid } = await who('a.test'); // a thread pool's app: its pid is the serving process's
    expect(pid).to.not.equal(h.proc.pid);
    const served = credentials(pid);
    expect(served.uid).to.equal(`${user.uid} ${user.uid} ${user.uid} ${user.uid}`);
    expect(served.gid).to.equal(`${user.gid} ${user.gid} ${user.gid} ${user.gid}`);
    expect(served.capEff).to.match(/^0+$/);
    // Every thread of it: the fronts, the pools' workers (a drop is process-wide).
    for (const task of readdirSync(`/proc/${pid}/task`)) expect(credentials(`${pid}/task/${task}`).uid).to.equal(served.uid);
    expect(credentials(h.proc.pid!).uid).to.equal('0 0 0 0');
    expect(h.stderr()).to.match(new RegExp(`info dropped privileges user=hostd-a uid=${user.uid} gid=${user.gid}`));
    // The app's top-level code ran after the drop, never as root (its console reaches the error log).
    await h.waitFor(/info loaded as uid \d+/);
    expect(h.stderr()).to.include(`info loaded as uid ${user.uid} site=a`);
    expect(h.stderr()).to.not.include('loaded as uid 0');
  });

  it("a thread pool's app runs as the user: it reads what the user may and gets EACCES on root's files", async () => {
    const w = await who('a.test');
    expect([w.uid, w.gid]).to.deep.equal([user.uid, user.gid]);
    const read = (file: string) => getText(url(`/read?file=${encodeURIComponent(file)}`), { host: 'a.test' });
    expect(await read(secret)).to.include({ status: 403, text: 'EACCES' });
    expect(await read(join(root, 'site/public/hello.txt'))).to.include({ status: 200 });
  });

  it('static files the user can read are served', async () => {
    const r = await getText(url('/files/hello.txt'), { host: 'a.test' });
    expect(r).to.include({ status: 200, text: 'hello from a file hostd-a reads\n' });
  });

  it('a process pool without pool.user runs as the user, and a TypeScript app compiles after the drop', async () => {
    const served = await who('a.test');
    const daemon = await who('b.test');
    expect(daemon.pid).to.not.equal(served.pid);
    expect([daemon.uid, daemon.gid]).to.deep.equal([user.uid, user.gid]);
    expect((await who('c.test')).uid).to.equal(user.uid);
  });

  it('SIGHUP reloads as the user; a new listener on a port only root may bind is refused for its site only', async () => {
    const low = 81;
    const checkLow = unprivilegedPortStart() > low; // (a container may let anyone bind any port)
    writeFileSync(
      join(sites, 'a.yaml'),
      `serverName: a.test\nlisten: ${listen}\nstatic:\n  - url: /files\n    dir: ../site/public\n  - url: /more\n    dir: ../site/public\napps:\n  - url: /\n    module: ../site/app.mjs\n`,
    );
    if (checkLow) writeFileSync(join(sites, 'd.yaml'), `serverName: d.test\nlisten: 127.0.0.1:${low}\n`);
    h.proc.kill('SIGHUP'); // to the supervisor, which forwards it
    await h.waitFor(/info reloaded generation=2/);
    expect((await getText(url('/more/hello.txt'), { host: 'a.test' })).status).to.equal(200);
    if (!checkLow) return;
    expect(h.stderr()).to.include(
      `d.yaml:2: listen: hostd runs as user \\"hostd-a\\" since it bound its listeners (--user) and cannot bind port ${low}`,
    );
    expect(h.stderr()).to.match(/reloaded generation=2 keptPrevious=1/);
    expect(await canConnect(low)).to.equal(false);
    expect((await who('b.test')).uid, "the process pool's new processes").to.equal(user.uid);
  });

  it('POST /reload?site=NAME moving a site to a port only root may bind fails for it; it serves on', async function () {
    if (unprivilegedPortStart() <= 82) return this.skip(); // (a container may let anyone bind any port)
    writeFileSync(join(sites, 'c.yaml'), 'serverName: c.test\nlisten: 127.0.0.1:82\napps:\n  - url: /\n    module: ../site/app.ts\n');
    const r = await runCli(['reload', 'c', '--status', statusSocket]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.include(
      `c.yaml:2: listen: hostd runs as user "hostd-a" since it bound its listeners (--user) and cannot bind port 82`,
    );
    expect((await who('c.test')).uid).to.equal(user.uid);
  });

  it('the supervisor restarts a killed serving process as root: it binds what reloads could not, and drops again', async () => {
    const killed = (await who('a.test')).pid;
    process.kill(killed, 'SIGKILL');
    await h.waitFor(/info supervisor: serving again/);
    const now = await who('a.test');
    expect(now.pid).to.not.equal(killed);
    expect(credentials(now.pid).uid).to.equal(`${user.uid} ${user.uid} ${user.uid} ${user.uid}`);
    // d.yaml (port 81) and c.yaml (port 82), refused by the reloads above, are bound now.
    if (unprivilegedPortStart() > 82) expect([await canConnect(81), await canConnect(82)]).to.deep.equal([true, true]);
  });

  it('a reload that must read a certificate only root reads fails with a clear error; the old one keeps serving', async () => {
    const dir = join(root, 'tls');
    mkdirSync(join(dir, 'sites'), { recursive: true });
    const { cert, key } = await selfSigned(dir, 'tls.test');
    chmodSync(key, 0o600); // root's, as certificates usually are
    writeFileSync(join(dir, 'sites', 't.yaml'), `serverName: tls.test\nlisten: 127.0.0.1:0\ntls: { cert: ${cert}, key: ${key} }\n`);
    const t = await spawnHostd(['--sites', join(dir, 'sites'), '--user', 'hostd-a', '--access-log', 'off']);
    let exit: number | null = null;
    const agent = new Agent({ connect: { rejectUnauthorized: false, servername: 'tls.test' } });
    try {
      const get = async () =>
        (await request(`https://127.0.0.1:${t.port}/`, { dispatcher: agent, headers: { host: 'tls.test' } })).statusCode;
      expect(await get()).to.equal(404); // served over TLS (nothing mounted)
      t.proc.kill('SIGHUP');
      await t.waitFor(/reload failed; still serving the previous configuration/);
      expect(t.stderr()).to.include(`EACCES: ${key}; hostd serves as uid ${user.uid} since it dropped root (--user)`);
      expect(await get()).to.equal(404);
    } finally {
      await agent.close();
      exit = await t.stop();
    }
    expect(exit, 'exit code after SIGTERM').to.equal(0);
  });

  it("SIGUSR1: the log files are the user's to reopen; one it may not create is a clear error, and hostd logs on", async () => {
    const dir = join(root, 'logs-case');
    mkdirSync(join(dir, 'sites'), { recursive: true });
    mkdirSync(join(dir, 'logs')); // root's, 0755: hostd-a may not create files in it
    writeFileSync(
      join(dir, 'sites', 's.yaml'),
      `serverName: s.test\nlisten: 127.0.0.1:0\nstatic:\n  - url: /files\n    dir: ${join(root, 'site/public')}\n`,
    );
    const log = join(dir, 'logs', 'access.log');
    const t = await spawnHostd(['--sites', join(dir, 'sites'), '--user', 'hostd-a', '--access-log', log]);
    const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
    /** One request, and its line in `file` (sonic-boom holds lines while it reopens: the reopen is over). */
    const logged = async (file: string, n: number) => {
      expect((await getText(`http://127.0.0.1:${t.port}/files/hello.txt`, { host: 's.test' })).status).to.equal(200);
      await waitFor(() => lines(file) === n, { what: `line ${n} of ${file}` });
    };
    let exit: number | null = null;
    try {
      await logged(log, 1);
      expect(statSync(log).uid, 'the log file handed to the user before the drop').to.equal(user.uid);
      t.proc.kill('SIGUSR1'); // no rotation: the same file, opened again as hostd-a
      await logged(log, 2);
      // logrotate with `create 0640 hostd-a adm`: renamed, then a new file of the user's.
      renameSync(log, `${log}.1`);
      writeFileSync(log, '');
      chownSync(log, user.uid, user.gid);
      t.proc.kill('SIGUSR1');
      await logged(log, 1);
      expect(lines(`${log}.1`)).to.equal(2);
      expect(t.stderr()).to.not.include('EACCES');
      // Renamed with no new file: hostd-a cannot create one in root's folder.
      renameSync(log, `${log}.2`);
      t.proc.kill('SIGUSR1');
      await t.waitFor(new RegExp(`log ${log}: EACCES: permission denied`));
      await logged(`${log}.2`, 2); // on in the renamed file: no line lost, no crash
    } finally {
      exit = await t.stop();
    }
    expect(exit, 'exit code after SIGTERM').to.equal(0);
  });

  it('pool.user with --user is refused at its line, saying why', async () => {
    const file = join(root, 'pool-user.yaml');
    writeFileSync(
      file,
      'serverName: x.test\nlisten: 127.0.0.1:0\napps:\n  - url: /\n    module: ./site/app.mjs\n    pool:\n      isolation: process\n      user: hostd-b\n',
    );
    for (const args of [['--no-supervisor'], ['check']]) {
      const r = await runCli([...args, '--sites', file, '--user', 'hostd-a']);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr + r.stdout).to.include(
        `${file}:8: apps[0].pool.user: hostd drops from root to user "hostd-a" after binding (--user), so it cannot start processes as another user`,
      );
    }
  });

  it('createHost({ user }): the programmatic twin drops the embedding process; not root, it rejects with HOSTD_USAGE', async () => {
    // In a process of its own: the drop would take this test runner with it.
    const script = `
      const { createHost } = await import(${JSON.stringify(join(ROOT, 'dist/index.js'))});
      try {
        const host = await createHost({
          sites: [{ serverName: ['*'], listen: '127.0.0.1:0', apps: [{ url: '/', module: ${JSON.stringify(join(root, 'site/app.mjs'))} }] }],
          user: 'hostd-a', accessLog: false,
        });
        await host.listen();
        const app = await (await fetch('http://127.0.0.1:' + host.addresses[0].port + '/who')).json();
        await host.close();
        console.log(JSON.stringify({ uid: process.getuid(), app: app.uid }));
      } catch (err) {
        console.log(JSON.stringify({ code: err.code, message: err.message }));
      }
      process.exit(0);`;
    const run = (uid?: number) =>
      new Promise<Record<string, unknown>>((done, fail) => {
        execFile(
          process.execPath,
          ['--input-type=module', '-e', script],
          { uid, gid: uid === undefined ? undefined : user.gid, cwd: root },
          (err, out) => (err ? fail(err) : done(JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>)),
        );
      });
    expect(await run()).to.deep.equal({ uid: user.uid, app: user.uid });
    const refused = await run(user.uid);
    expect(refused.code).to.equal('HOSTD_USAGE');
    expect(refused.message).to.include('hostd is not running as root');
  });

  it('--user when not root is a usage error; an unknown user is named', async () => {
    const asUser = await runCli(['--sites', sites, '--user', 'hostd-b'], { uid: user.uid, gid: user.gid });
    expect(asUser.code, asUser.stderr).to.equal(2);
    expect(asUser.stderr).to.include(`--user hostd-b: hostd is not running as root (uid ${user.uid})`);
    const unknown = await runCli(['--sites', sites, '--user', 'no-such-user-here']);
    expect(unknown.code, unknown.stderr).to.equal(2);
    expect(unknown.stderr).to.include('no such user "no-such-user-here"');
    const elsewhere = await runCli(['status', '--user', 'hostd-a']);
    expect(elsewhere.code, elsewhere.stderr).to.equal(2);
    expect(elsewhere.stderr).to.include('--user goes with serving (or check)');
  });
});
