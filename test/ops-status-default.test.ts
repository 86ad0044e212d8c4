// Issue 19, "Operating without flags": the CLI opens its status listener by default on a Unix
// socket in the runtime directory (folder 0700, socket 0600), so `hostd status` and `hostd
// reload NAME` need no options; `--status` moves it, `--status off` disables it. A live hostd's
// socket is left alone (the second one warns and serves without), a stale one is replaced.
// Issue 18 item 11: the status listener answers HEAD on its GETs.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { getText, type HostdProcess, killGroup, spawnHostd, statusBase, statusRequest, testRuntimeDir, waitFor } from './helpers/index.js';

describe('ops: the status listener on by default', () => {
  let dir: string;
  let vhost: string;
  const started: HostdProcess[] = [];
  const start = async (runtime: string, extra: string[] = []) => {
    const h = await spawnHostd(['--sites', vhost, '--no-supervisor', '--access-log', 'off', ...extra], {
      env: { HOSTD_RUNTIME_DIR: runtime },
    });
    started.push(h);
    return h;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostd-status-default-'));
    writeFileSync(join(dir, 'app.mjs'), 'export default () => new Response("app");\n');
    vhost = join(dir, 'site.yaml');
    writeFileSync(vhost, 'default: true\nlisten: "127.0.0.1:0"\napps:\n  - { url: /, module: ./app.mjs }\n');
  });
  after(async () => {
    for (const h of started) await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on $HOSTD_RUNTIME_DIR/hostd.sock (folder 0700, socket 0600) with no --status', async () => {
    const runtime = testRuntimeDir();
    const hostd = await start(runtime);
    const socket = join(runtime, 'hostd.sock');
    expect(await statusBase(hostd)).to.equal(`unix:${socket}`);
    expect(statSync(runtime).mode & 0o777).to.equal(0o700);
    expect(statSync(socket).mode & 0o777).to.equal(0o600);
    const health = await statusRequest(`unix:${socket}`, '/healthz');
    expect(health).to.include({ status: 200, text: 'ok\n' });
    await hostd.stop();
    expect(existsSync(socket)).to.equal(false); // removed on a clean exit
  });

  it('answers HEAD on /healthz, /status and /metrics: the GET’s status and length, no body', async () => {
    const runtime = testRuntimeDir();
    const base = await statusBase(await start(runtime));
    for (const path of ['/healthz', '/status', '/metrics']) {
      const head = await statusRequest(base, path, { method: 'HEAD' });
      expect(head.status, path).to.equal(200);
      expect(head.text, path).to.equal('');
      expect(Number(head.headers['content-length']), path).to.be.above(0);
      expect(head.headers['content-type'], path).to.equal((await statusRequest(base, path)).headers['content-type']);
    }
    // An unknown path: 404 without a body, and the (kept-alive) connection still answers after it.
    const miss = await statusRequest(base, '/nope', { method: 'HEAD' });
    expect(miss).to.include({ status: 404, text: '' });
    expect((await statusRequest(base, '/healthz')).text).to.equal('ok\n');
  });

  it('a second hostd with the same runtime directory warns and serves without a status listener; the first keeps its socket', async () => {
    const runtime = testRuntimeDir();
    const first = await start(runtime);
    const base = await statusBase(first);
    const second = await start(runtime);
    await second.waitFor(/warn the default status socket belongs to a running hostd; serving without a status listener/);
    expect((await getText(`http://127.0.0.1:${second.port}/`)).text).to.equal('app');
    expect(second.stderr()).not.to.include('status endpoint');
    expect((await statusRequest(base, '/healthz')).status).to.equal(200);
    expect((await statusRequest(base, '/status')).text).to.include(`"port": ${first.port}`);
  });

  it('replaces a stale socket a killed hostd left behind', async () => {
    const runtime = testRuntimeDir();
    const killed = await start(runtime);
    await statusBase(killed);
    killGroup(killed.proc);
    await waitFor(() => killed.proc.exitCode !== null || killed.proc.signalCode !== null, { what: 'the killed hostd gone' });
    expect(existsSync(join(runtime, 'hostd.sock'))).to.equal(true); // stale: nobody answers there
    const next = await start(runtime);
    expect(await statusBase(next)).to.equal(`unix:${join(runtime, 'hostd.sock')}`);
    expect((await statusRequest(`unix:${join(runtime, 'hostd.sock')}`, '/healthz')).status).to.equal(200);
  });

  it('--status off opens none; --status ADDRESS moves it', async () => {
    const runtime = testRuntimeDir();
    const off = await start(runtime, ['--status', 'off']);
    expect((await getText(`http://127.0.0.1:${off.port}/`)).text).to.equal('app');
    expect(off.stderr()).not.to.include('status endpoint');
    expect(existsSync(join(runtime, 'hostd.sock'))).to.equal(false);
    const moved = await start(testRuntimeDir(), ['--status', '127.0.0.1:0']);
    const base = await statusBase(moved);
    expect(base).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await statusRequest(base, '/healthz', { method: 'HEAD' })).status).to.equal(200);
  });
});
