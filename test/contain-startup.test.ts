// An app whose import never settles (issue 9, item 2), and a second hostd on a busy port (issue
// 10): at start-up, reload and shutdown a hung app costs its own mount, never other vhosts, the
// status listener, later reloads or the exit. Each test runs the built CLI with a module that
// awaits forever at top level (test/fixtures/contain/hang-at-load.mjs).
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/host.js';
import { freePort, get, startCli, type Hostd } from './fixtures/contain/proc.js';
import { HANG_APP, SLOW_LOAD_APP, VICTIM_APP } from './fixtures/contain/net.js';

/** A sites dir: a.test (static + an app that loads) and hang.test (the app that never loads). */
async function sites(port: number, hangPool = 'threads: 1, startTimeout: 3s'): Promise<{ root: string; dir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'hostd-contain-start-'));
  const dir = join(root, 'sites');
  await mkdir(dir);
  await mkdir(join(root, 'www'));
  await writeFile(join(root, 'www', 'a.txt'), 'static a\n');
  await writeFile(
    join(dir, 'a.yaml'),
    `serverName: [a.test]\nlisten: "127.0.0.1:${port}"\nstatic: [{ url: /s, dir: ../www }]\napps: [{ url: /app, module: ${JSON.stringify(VICTIM_APP)}, pool: { threads: 1 } }]\n`,
  );
  await writeFile(
    join(dir, 'hang.yaml'),
    `serverName: [hang.test]\nlisten: "127.0.0.1:${port}"\napps: [{ url: /, module: ${JSON.stringify(HANG_APP)}, pool: { ${hangPool} } }]\n`,
  );
  return { root, dir };
}

/** GET with a Host header; status 0 when the connection fails. */
async function getAs(port: number, host: string, path: string, timeoutMs = 20_000): Promise<{ status: number; text: string }> {
  const { request } = await import('undici');
  try {
    const res = await request(`http://127.0.0.1:${port}${path}`, {
      headers: { host },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      reset: true,
    });
    return { status: res.statusCode, text: await res.body.text() };
  } catch (err) {
    return { status: 0, text: (err as Error).message };
  }
}

const statusOrigin = (h: Hostd) => /status endpoint status=(http:\/\/[^\s]+)\/status/.exec(h.stderr())![1];
const STARTUP_TIMEOUT_LOG = /the app did not finish loading within 3000 ms \(pool\.startTimeout\)/;

describe('contain: an app whose import never settles', function () {
  this.timeout(90_000);
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  async function start(
    extra: string[] = [],
    hangPool?: string,
    prepare?: (s: { dir: string; root: string; port: number }) => Promise<void>,
  ) {
    const port = await freePort();
    const s = await sites(port, hangPool);
    await prepare?.({ ...s, port });
    const hostd = startCli(['--sites', s.dir, '--no-supervisor', '--access-log', 'off', '--status', '127.0.0.1:0', ...extra]);
    cleanup.push(
      () => rm(s.root, { recursive: true, force: true }),
      () => hostd.stop('SIGKILL'),
    );
    return { port, hostd, ...s };
  }

  it('at start-up: other vhosts and the status listener serve while it loads; its mount queues, then answers 503 at startTimeout and the log says why', async () => {
    const { port, hostd } = await start();
    await hostd.waitFor(/listening address=/);
    await hostd.waitFor(/status endpoint/);
    const queued = getAs(port, 'hang.test', '/'); // waits in the hung pool's queue
    expect(await getAs(port, 'a.test', '/app/hello')).to.deep.equal({ status: 200, text: 'hello' });
    expect((await getAs(port, 'a.test', '/s/a.txt')).status).to.equal(200);
    expect((await get(`${statusOrigin(hostd)}/healthz`)).status).to.equal(200);
    // All of that before the hung app's startTimeout ran out.
    expect(hostd.stderr()).to.not.match(STARTUP_TIMEOUT_LOG);
    const r = await queued;
    expect(r.status).to.equal(503);
    await hostd.waitFor(
      /error app failed to load; its mount answers 503 .*the app did not finish loading within 3000 ms \(pool\.startTimeout\)/,
    );
    expect((await getAs(port, 'hang.test', '/')).status).to.equal(503);
    const status = JSON.parse((await get(`${statusOrigin(hostd)}/status`)).text) as {
      hosts: { serverNames: string[]; mounts: { pool?: { loadError?: string } }[] }[];
    };
    expect(status.hosts.find((h) => h.serverNames[0] === 'hang.test')!.mounts[0].pool!.loadError).to.match(/startTimeout/);
    expect(await hostd.stop()).to.equal(0);
  });

  it('SIGHUP with a hung new app: its site keeps its old configuration at startTimeout (the rest applies) and a later SIGHUP works', async () => {
    const { port, hostd, dir } = await start();
    await hostd.waitFor(/listening address=/);
    await hostd.waitFor(STARTUP_TIMEOUT_LOG);
    // The reload adds a second hung mount on a.test; a.test keeps serving meanwhile.
    await writeFile(
      join(dir, 'a.yaml'),
      `serverName: [a.test]\nlisten: "127.0.0.1:${port}"\napps:\n  - { url: /app, module: ${JSON.stringify(VICTIM_APP)}, pool: { threads: 1 } }\n  - { url: /hung, module: ${JSON.stringify(HANG_APP)}, pool: { threads: 1, startTimeout: 3s } }\n`,
    );
    hostd.proc.kill('SIGHUP');
    await hostd.waitFor(/SIGHUP: reloading configuration/);
    expect(await getAs(port, 'a.test', '/app/hello')).to.deep.equal({ status: 200, text: 'hello' });
    // Issue 19: the site whose app did not load keeps its previous configuration; the reload goes on.
    await hostd.waitFor(/reload: this site keeps its previous configuration problem=".*a\.yaml: .*startTimeout/, 30_000);
    await hostd.waitFor(/reloaded generation=2/, 30_000);
    expect((await getAs(port, 'a.test', '/hung/x')).status).to.equal(404); // the kept site has no /hung
    // Fixed file, second SIGHUP: it is not queued behind anything.
    await writeFile(
      join(dir, 'a.yaml'),
      `serverName: [a.test]\nlisten: "127.0.0.1:${port}"\napps: [{ url: /app2, module: ${JSON.stringify(VICTIM_APP)}, pool: { threads: 1 } }]\n`,
    );
    await rm(join(dir, 'hang.yaml'));
    hostd.proc.kill('SIGHUP');
    await hostd.waitFor(/reloaded generation=3/, 30_000);
    expect(await getAs(port, 'a.test', '/app2/hello')).to.deep.equal({ status: 200, text: 'hello' });
    expect(await hostd.stop()).to.equal(0);
  });

  it('SIGTERM during a reload waiting for a hung app exits 0 within --graceful-timeout (startTimeout 10 min)', async () => {
    const { port, hostd, dir } = await start(['--graceful-timeout', '3s'], 'threads: 1, startTimeout: 10m');
    await hostd.waitFor(/listening address=/);
    await writeFile(
      join(dir, 'more.yaml'),
      `serverName: [more.test]\nlisten: "127.0.0.1:${port}"\napps: [{ url: /, module: ${JSON.stringify(HANG_APP)}, pool: { startTimeout: 10m } }]\n`,
    );
    hostd.proc.kill('SIGHUP');
    await hostd.waitFor(/SIGHUP: reloading configuration/);
    expect(await getAs(port, 'a.test', '/app/hello')).to.deep.equal({ status: 200, text: 'hello' });
    const t0 = performance.now();
    expect(await hostd.stop('SIGTERM')).to.equal(0);
    const took = performance.now() - t0;
    console.log(`      SIGTERM to exit, two hung apps loading: ${Math.round(took)} ms`);
    // Generous: far below the apps' 10 minutes.
    expect(took).to.be.below(30_000);
  });

  it('SIGTERM at start-up while the app is still loading exits 0 (startTimeout 10 min)', async () => {
    const { port, hostd } = await start(['--graceful-timeout', '3s'], 'threads: 2, startTimeout: 10m');
    await hostd.waitFor(/listening address=/);
    const queued = getAs(port, 'hang.test', '/');
    expect((await getAs(port, 'a.test', '/app/hello')).status).to.equal(200);
    const t0 = performance.now();
    expect(await hostd.stop('SIGTERM')).to.equal(0);
    expect(performance.now() - t0).to.be.below(30_000);
    expect([0, 503]).to.include((await queued).status);
  });

  it('SIGHUP the moment hostd listens, while its apps still load: the reload waits for them and every mount serves', async () => {
    // (A roll of a pool still in its first load killed the loading workers: the mount answered
    // 503 "failed to load" until the next reload.)
    const { port, hostd } = await start([], undefined, async ({ dir, root, port }) => {
      await rm(join(dir, 'hang.yaml'));
      const pool = `threads: 1, env: { SLOW_MARKER: ${JSON.stringify(join(root, 'first-load'))} }`;
      await writeFile(
        join(dir, 'a.yaml'),
        `serverName: [a.test]\nlisten: "127.0.0.1:${port}"\napps: [{ url: /app, module: ${JSON.stringify(SLOW_LOAD_APP)}, pool: { ${pool} } }]\n`,
      );
    });
    await hostd.waitFor(/listening address=/);
    hostd.proc.kill('SIGHUP');
    await hostd.waitFor(/reloaded generation=2|reload failed/, 30_000);
    expect(hostd.stderr()).to.match(/reloaded generation=2/);
    expect(hostd.stderr()).to.not.match(/mount=\/app .*failed to load|failed to load.* mount=\/app /);
    expect(await getAs(port, 'a.test', '/app/hello')).to.deep.equal({ status: 200, text: 'hello' });
    expect(await hostd.stop()).to.equal(0);
  });

  it('`hostd check` reports the hang as a problem with the file and line, and exits 1', async () => {
    const port = await freePort();
    const s = await sites(port);
    cleanup.push(() => rm(s.root, { recursive: true, force: true }));
    const r = await runCli(['check', '--sites', s.dir], { timeoutMs: 60_000 });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/hang\.yaml:\d+: apps\[0\]\.module: .*did not finish loading within 3000 ms \(pool\.startTimeout\)/);
    expect(r.stderr).to.not.match(/a\.yaml/);
  });
});

describe('contain: a second hostd on an address the first serves', function () {
  this.timeout(60_000);

  it('exits 1 naming the address, and the first keeps serving', async () => {
    const port = await freePort();
    const s = await sites(port);
    const first = startCli(['--sites', s.dir, '--no-supervisor', '--access-log', 'off']);
    try {
      await first.waitFor(/listening address=/);
      for (const supervised of [false, true]) {
        const second = await runCli(['--sites', s.dir, '--access-log', 'off', ...(supervised ? [] : ['--no-supervisor'])], {
          timeoutMs: 30_000,
        });
        expect(second.code, second.stderr).to.equal(1);
        expect(second.stderr).to.match(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: another process already listens there`));
      }
      expect(await getAs(port, 'a.test', '/app/hello')).to.deep.equal({ status: 200, text: 'hello' });
      expect(await first.stop()).to.equal(0);
    } finally {
      await first.stop('SIGKILL');
      await rm(s.root, { recursive: true, force: true });
    }
  });
});
