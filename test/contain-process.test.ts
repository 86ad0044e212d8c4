// Process-level containment (issue 9): an app cannot signal or abort the host; a supervised hostd
// comes back when the unguardable forms kill it; signals right after start do not kill hostd;
// the descriptor limit is logged; workers start from a minimal environment; apps' writes to fds
// 1 and 2 land in the error log tagged with their mount. Each test runs the attack through the
// built CLI over a real socket first, then asserts the contained outcome.
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Backoff } from '../native-front/supervisor/backoff.js';
import { runCli } from './helpers/host.js';
import {
  alive,
  attackSite,
  catches,
  freePort,
  get,
  getJson,
  KILL_AT_LOAD_APP,
  startCli,
  until200,
  type Hostd,
} from './fixtures/contain/proc.js';

const SIGHUP = 1;

interface Attempt {
  ok: boolean;
  code?: string | null;
  message?: string;
}

describe('contain: an app cannot signal or abort the host (--no-supervisor)', function () {
  this.timeout(60_000);
  let root: string;
  let hostd: Hostd;
  let base: string;

  before(async () => {
    const port = await freePort();
    const site = await attackSite(port);
    root = site.root;
    hostd = startCli(['--sites', site.sites, '--no-supervisor', '--access-log', 'off']);
    base = `http://127.0.0.1:${port}/app`;
    await hostd.waitFor(/listening address=/);
  });
  after(async () => {
    if (hostd) expect(await hostd.stop()).to.equal(0);
    if (root) await rm(root, { recursive: true, force: true });
  });

  const refused = async (path: string, code = 'HOSTD_SIGNAL_REFUSED') => {
    const r = await getJson<Attempt>(`${base}${path}`);
    expect(r.ok, `${path} was not refused`).to.equal(false);
    expect(r.code).to.equal(code);
    expect((await get(`${base}/ok`)).status, `hostd serves after ${path}`).to.equal(200);
    return r;
  };

  it("refuses process.kill(process.pid, 'SIGTERM') and keeps serving, and logs it with the mount", async () => {
    const r = await refused('/kill?target=self&sig=SIGTERM');
    expect(r.message).to.match(/process\.kill\(\d+, SIGTERM\) aimed at hostd itself refused/);
    await hostd.waitFor(/error process\.kill\(\d+, SIGTERM\) aimed at hostd itself refused.*mount=\/app/s);
    expect(hostd.stderr()).to.not.match(/draining/);
  });

  it("refuses 'SIGKILL' at hostd's pid, and signals through process._kill", async () => {
    await refused('/kill?target=self&sig=SIGKILL');
    await refused('/kill?target=self&sig=9&raw=1');
  });

  it("refuses signals to the parent, hostd's process group (0 or by number), every process and a thread of hostd", async () => {
    for (const target of ['parent', 'group', 'all', 'pgid', 'pgrp', 'thread']) await refused(`/kill?target=${target}&sig=SIGTERM`);
  });

  it("lets an app signal its own detached child's process group", async () => {
    const r = await getJson<Attempt & { childSignal: string }>(`${base}/kill-child-group`);
    expect(r).to.include({ ok: true, childSignal: 'SIGTERM' });
  });

  it('allows signal 0 (a liveness probe) at its own pid', async () => {
    const r = await getJson<Attempt>(`${base}/kill?target=self&sig=0`);
    expect(r).to.include({ ok: true, result: true });
  });

  it('refuses process.abort() and os.setPriority() aimed at the front thread', async () => {
    const r = await refused('/abort', 'HOSTD_PROCESS_REFUSED');
    expect(r.message).to.match(/process\.abort\(\) refused/);
    await refused('/nice?target=self', 'HOSTD_PROCESS_REFUSED');
  });

  it("without a supervisor, child_process 'kill -9' still kills hostd (the case the supervisor exists for)", async () => {
    // Reproduces the unguardable attack on a second, throwaway hostd.
    const port = await freePort();
    const site = await attackSite(port);
    const victim = startCli(['--sites', site.sites, '--no-supervisor', '--access-log', 'off']);
    try {
      await victim.waitFor(/listening address=/);
      await get(`http://127.0.0.1:${port}/app/exec-kill?sig=9`);
      expect(await victim.exited).to.equal(137);
    } finally {
      await victim.stop('SIGKILL');
      await rm(site.root, { recursive: true, force: true });
    }
  });
});

describe('contain: the supervisor', function () {
  this.timeout(90_000);

  async function supervised(extra: string[] = []) {
    const port = await freePort();
    const site = await attackSite(port);
    const hostd = startCli(['--sites', site.sites, '--access-log', 'off', ...extra]);
    await hostd.waitFor(/listening address=/);
    const base = `http://127.0.0.1:${port}/app`;
    return { hostd, base, root: site.root };
  }

  it("restarts the serving process after child_process 'kill -9 <pid>' from a handler", async () => {
    const { hostd, base, root } = await supervised();
    try {
      const before = await getJson<{ pid: number; ppid: number }>(`${base}/pid`);
      expect(before.ppid).to.equal(hostd.proc.pid); // the serving process is the supervisor's child
      await get(`${base}/exec-kill?sig=9`);
      await hostd.waitFor(/supervisor: the serving process was killed by SIGKILL without being asked to stop; restarting it/);
      await until200(`${base}/ok`);
      const after = await getJson<{ pid: number }>(`${base}/pid`);
      expect(after.pid).to.not.equal(before.pid);
      expect(alive(before.pid)).to.equal(false);
      await hostd.waitFor(/supervisor: serving again .*downtimeMs=\d+/);
      expect(await hostd.stop()).to.equal(0);
    } finally {
      await hostd.stop('SIGKILL');
      await rm(root, { recursive: true, force: true });
    }
  });

  it("restarts it after 'kill -TERM <pid>' from a handler, which drains and exits 0", async () => {
    const { hostd, base, root } = await supervised(['--graceful-timeout', '2s']);
    try {
      const before = await getJson<{ pid: number }>(`${base}/pid`);
      await get(`${base}/exec-kill?sig=TERM`);
      await hostd.waitFor(/supervisor: the serving process exited with code 0 without being asked to stop; restarting it/);
      await until200(`${base}/ok`);
      expect((await getJson<{ pid: number }>(`${base}/pid`)).pid).to.not.equal(before.pid);
      expect(await hostd.stop()).to.equal(0);
    } finally {
      await hostd.stop('SIGKILL');
      await rm(root, { recursive: true, force: true });
    }
  });

  it('comes back after a SIGKILL of the serving process, and says how long it was down', async () => {
    const { hostd, base, root } = await supervised();
    try {
      const { pid } = await getJson<{ pid: number }>(`${base}/pid`);
      const t0 = performance.now();
      process.kill(pid, 'SIGKILL');
      const t1 = await until200(`${base}/ok`);
      await hostd.waitFor(/supervisor: serving again/);
      // The figure (docs/operations.md quotes it); no upper bound asserted on a shared CI box.
      console.log(`      restart after SIGKILL: ${Math.round(t1 - t0)} ms to the first 200`);
      expect(await hostd.stop()).to.equal(0);
    } finally {
      await hostd.stop('SIGKILL');
      await rm(root, { recursive: true, force: true });
    }
  });

  it("keeps serving when an app kills the supervisor ('kill -9 $PPID'), and logs it", async () => {
    const { hostd, base, root } = await supervised();
    const { pid } = await getJson<{ pid: number }>(`${base}/pid`);
    try {
      await get(`${base}/exec-kill?sig=9&target=parent`);
      expect(await hostd.exited).to.equal(137);
      await hostd.waitFor(/the supervisor is gone; serving unsupervised/);
      expect((await get(`${base}/ok`)).status).to.equal(200);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGTERM');
      const end = Date.now() + 20_000;
      while (alive(pid) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50));
      await rm(root, { recursive: true, force: true });
    }
  });

  it('forwards SIGTERM: the serving process drains and the supervisor exits with its code', async () => {
    const { hostd, base, root } = await supervised();
    try {
      const { pid } = await getJson<{ pid: number }>(`${base}/pid`);
      expect(await hostd.stop('SIGTERM')).to.equal(0);
      expect(hostd.stderr()).to.match(/signal received, draining signal=SIGTERM/);
      expect(alive(pid)).to.equal(false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('exits with the code of a serving process that fails at first start, without restarting it', async () => {
    const port = await freePort();
    const site = await attackSite(port);
    try {
      await writeFile(
        `${site.sites}/main.yaml`,
        `serverName: ["*"]\nlisten: "127.0.0.1:${port}"\nstatic: [{ url: /, dir: ./does-not-exist }]\n`,
      );
      const r = await runCli(['--sites', site.sites], { timeoutMs: 30_000 });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/does-not-exist/);
      expect(r.stderr.match(/not restarting/g)).to.have.length(1);
    } finally {
      await rm(site.root, { recursive: true, force: true });
    }
  });
});

describe('contain: the supervisor backoff', () => {
  it('waits 100 ms, doubling per death in a row up to 10 s, and starts over after a minute of serving', () => {
    const b = new Backoff();
    const delays = Array.from({ length: 9 }, () => b.next(5_000));
    expect(delays).to.deep.equal([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
    expect(b.next(60_000)).to.equal(100);
    expect(b.next(0)).to.equal(200);
  });
});

describe('contain: signals right after start', function () {
  this.timeout(60_000);

  for (const mode of ['--no-supervisor', 'supervised'] as const) {
    it(`a SIGHUP as soon as the process has a handler does not kill hostd (${mode})`, async () => {
      const port = await freePort();
      const site = await attackSite(port);
      const hostd = startCli(['--sites', site.sites, '--access-log', 'off', ...(mode === 'supervised' ? [] : [mode])]);
      try {
        const pid = hostd.proc.pid!;
        // Poll for the moment the handler exists (before it, Node's default action applies and
        // nothing can help), then signal at once: long before anything listens.
        while (!catches(pid, SIGHUP)) {
          if (hostd.proc.exitCode !== null) throw new Error(`hostd exited: ${hostd.stderr()}`);
          await new Promise((resolve) => setImmediate(resolve));
        }
        process.kill(pid, 'SIGHUP');
        expect(hostd.stderr()).to.not.match(/listening/);
        await hostd.waitFor(/listening address=/);
        expect((await get(`http://127.0.0.1:${port}/app/ok`)).status).to.equal(200);
        // The serving process reloads once it is ready (the files may have changed meanwhile).
        if (mode === '--no-supervisor') await hostd.waitFor(/reloaded generation=2/);
        expect(hostd.proc.exitCode).to.equal(null);
        expect(await hostd.stop()).to.equal(0);
      } finally {
        await hostd.stop('SIGKILL');
        await rm(site.root, { recursive: true, force: true });
      }
    });
  }

  it('a SIGTERM before hostd serves ends it with 0 at once', async () => {
    const port = await freePort();
    const site = await attackSite(port);
    const hostd = startCli(['--sites', site.sites, '--no-supervisor']);
    try {
      // Node itself catches SIGTERM from its start (to restore the terminal, then die): poll for
      // SIGHUP, which only hostd's handlers (installed together) catch.
      while (!catches(hostd.proc.pid!, SIGHUP)) await new Promise((resolve) => setImmediate(resolve));
      hostd.proc.kill('SIGTERM');
      expect(await hostd.exited).to.equal(0);
      expect(hostd.stderr()).to.match(/SIGTERM received before serving; exiting/);
    } finally {
      await rm(site.root, { recursive: true, force: true });
    }
  });

  it('`hostd check` gets the default signal behaviour back', async () => {
    const port = await freePort();
    const site = await attackSite(port);
    try {
      const r = await runCli(['check', '--sites', site.sites]);
      expect(r.code).to.equal(0);
    } finally {
      await rm(site.root, { recursive: true, force: true });
    }
  });
});

describe('contain: descriptor limit', function () {
  this.timeout(30_000);

  it('logs the limit Node raised to the hard one, and warns when it is low (prlimit --nofile=256:512)', async () => {
    const port = await freePort();
    const site = await attackSite(port);
    const hostd = startCli(['--sites', site.sites, '--no-supervisor', '--access-log', 'off'], { prefix: ['prlimit', '--nofile=256:512'] });
    try {
      await hostd.waitFor(/descriptor limit/);
      expect(hostd.stderr()).to.match(/warn descriptor limit is low.* soft=512 hard=512/);
      expect((await get(`http://127.0.0.1:${port}/app/ok`)).status).to.equal(200);
      expect(await hostd.stop()).to.equal(0);
    } finally {
      await hostd.stop('SIGKILL');
      await rm(site.root, { recursive: true, force: true });
    }
  });
});

describe('contain: worker environment', function () {
  this.timeout(30_000);

  it("workers see the minimal environment, their pool's env and passEnv variables, not hostd's secrets", async () => {
    const port = await freePort();
    const site = await attackSite(port, 'threads: 1, env: { POOL_VAR: pool-value }, passEnv: [HOSTD_TEST_PASSED, HOSTD_TEST_UNSET]');
    const env: NodeJS.ProcessEnv = { ...process.env, HOSTD_TEST_SECRET: 's3cret', HOSTD_TEST_PASSED: 'passed-value', TZ: 'Europe/Paris' };
    delete env.NODE_ENV;
    const hostd = startCli(['--sites', site.sites, '--access-log', 'off'], { env });
    try {
      await hostd.waitFor(/listening address=/);
      const seen = await getJson<Record<string, string>>(`http://127.0.0.1:${port}/app/env`);
      expect(seen).to.not.have.property('HOSTD_TEST_SECRET');
      expect(seen).to.not.have.property('HOSTD_TEST_UNSET');
      expect(seen).to.include({
        POOL_VAR: 'pool-value',
        HOSTD_TEST_PASSED: 'passed-value',
        TZ: 'Europe/Paris',
        NODE_ENV: 'production',
        PATH: process.env.PATH,
      });
      for (const name of Object.keys(seen))
        expect(name).to.match(/^(PATH|HOME|LANG|LANGUAGE|LC_\w+|TZ|TMPDIR|NODE_ENV|POOL_VAR|HOSTD_TEST_PASSED)$/);
      expect(await hostd.stop()).to.equal(0);

      const check = await runCli(['check', '--sites', site.sites], { env });
      expect(check.code).to.equal(0);
      expect(check.stdout)
        .to.match(/env POOL_VAR/)
        .and.match(/passEnv HOSTD_TEST_PASSED, HOSTD_TEST_UNSET/);
      expect(check.stdout).to.not.match(/pool-value|passed-value|s3cret/);
    } finally {
      await hostd.stop('SIGKILL');
      await rm(site.root, { recursive: true, force: true });
    }
  });
});

describe('contain: apps writing to fds 1 and 2', function () {
  this.timeout(30_000);

  it('lands in the error log tagged with the mount, not on stdout (the access log stream)', async () => {
    const port = await freePort();
    const site = await attackSite(port);
    const hostd = startCli(['--sites', site.sites, '--no-supervisor', '--access-log', '-']);
    try {
      await hostd.waitFor(/listening address=/);
      for (const msg of ['first', 'second']) {
        const r = await get(`http://127.0.0.1:${port}/app/fd?msg=${msg}`);
        expect(r).to.deep.equal({ status: 200, text: 'written' });
        for (const form of ['fd1-writeSync', 'fd2-writeSync', 'fd1-writeFileSync', 'fd1-write', 'fd1-stream']) {
          await hostd.waitFor(new RegExp(`\\S+ (info|error) ${form} ${msg} .*mount=/app`));
        }
      }
      // Both requests are in the access log on stdout, which a stream's autoClose did not close.
      await until200(`http://127.0.0.1:${port}/app/ok`);
      const accessLines = () => hostd.stdout().split('\n').filter(Boolean);
      const end = Date.now() + 10_000;
      while (!accessLines().some((l) => l.includes('/app/ok')) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(accessLines().filter((l) => l.includes('/app/fd?msg='))).to.have.length(2);
      expect(accessLines().some((l) => l.includes('/app/ok'))).to.equal(true);
      expect(hostd.stdout()).to.not.match(/fd[12]-/);
      expect(await hostd.stop()).to.equal(0);
    } finally {
      await hostd.stop('SIGKILL');
      await rm(site.root, { recursive: true, force: true });
    }
  });
});

describe('contain: hostd check', function () {
  this.timeout(30_000);

  it('reports an app that kills the process while loading as a load error, and survives', async () => {
    const root = await mkdtemp(`${tmpdir()}/hostd-contain-check-`);
    try {
      await mkdir(`${root}/sites`);
      await writeFile(
        `${root}/sites/main.yaml`,
        `serverName: ["*"]\nlisten: 0\napps: [{ url: /, module: ${JSON.stringify(KILL_AT_LOAD_APP)} }]\n`,
      );
      const r = await runCli(['check', '--sites', `${root}/sites`]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/HOSTD_SIGNAL_REFUSED/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
