// SIGTERM / SIGINT against a real hostd: stop accepting, let in-flight requests finish (up to
// --graceful-timeout), answer the rest with a clean status, exit 0; /healthz says 503 at once.
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { request } from 'undici';
import {
  canConnect,
  getText,
  type HostdProcess,
  makeSite,
  poolIn,
  readStatus,
  type Site,
  spawnHostd,
  statusBase,
  waitFor,
} from './helpers/index.js';

/** Resolves once the app at /app has `n` requests running in its workers (seen on /status). */
async function runningInWorkers(status: string, n: number): Promise<void> {
  await waitFor(async () => poolIn(await readStatus(status), '/app').inFlight === n, { what: `${n} request(s) in the /app workers` });
}

function exitOf(hostd: HostdProcess): Promise<number | null> {
  return new Promise((resolve) => hostd.proc.on('exit', (code) => resolve(code)));
}

describe('ops: graceful shutdown', function () {
  this.timeout(60_000);
  let site: Site;
  before(async () => {
    site = await makeSite();
  });
  after(async () => site && (await rm(site.root, { recursive: true, force: true })));

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: the slow request in flight completes, /healthz turns 503, new connections are refused, exit 0`, async () => {
      const hostd = await spawnHostd(['--sites', site.sites, '--access-log', 'off', '--status', '127.0.0.1:0']);
      const status = await statusBase(hostd);
      try {
        expect((await getText(`${status}/healthz`)).status).to.equal(200);
        const started = Date.now();
        const slow = request(`http://127.0.0.1:${hostd.port}/app/slow?ms=1500`).then(async (r) => ({
          status: r.statusCode,
          body: await r.body.text(),
        }));
        await runningInWorkers(status, 1);
        const exited = exitOf(hostd);
        hostd.proc.kill(signal);
        await hostd.waitFor(/draining/);
        const health = await getText(`${status}/healthz`);
        expect(health.status).to.equal(503);
        expect(await canConnect(hostd.port)).to.equal(false);
        const res = await slow;
        expect(res).to.deep.equal({ status: 200, body: 'slow done v1' });
        expect(Date.now() - started).to.be.greaterThan(1400); // it ran to its end (1.5 s), not cut
        expect(await exited).to.equal(0);
      } finally {
        await hostd.stop('SIGKILL');
      }
    });
  }

  it('answers what is still running at --graceful-timeout with a clean 503 and exits 0', async () => {
    const hostd = await spawnHostd([
      '--sites',
      site.sites,
      '--access-log',
      'off',
      '--graceful-timeout',
      '500ms',
      '--status',
      '127.0.0.1:0',
    ]);
    const status = await statusBase(hostd);
    try {
      const slow = request(`http://127.0.0.1:${hostd.port}/app/slow?ms=60000`).then(async (r) => ({
        status: r.statusCode,
        body: await r.body.text(),
      }));
      await runningInWorkers(status, 1);
      const t0 = Date.now();
      const code = await hostd.stop('SIGTERM');
      expect(code).to.equal(0);
      // The bound is the feature: the 500 ms graceful timeout cuts a request that would run for
      // 60 s. 14 s leaves a loaded machine room and stays below stop()'s SIGKILL at 15 s.
      expect(Date.now() - t0).to.be.lessThan(14_000);
      const res = await slow;
      expect(res.status).to.equal(503);
      expect(res.body).to.not.match(/at .*\.m?js:\d+/); // no stack trace
    } finally {
      await hostd.stop('SIGKILL');
    }
  });
});
